"""The domain core: pure Python, never imports Django."""
