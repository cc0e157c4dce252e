"""rodnan: an open-source clinical-trial platform, first serving NCT00962923 (MSC transplantation in SSc)."""

__version__ = "0.1.0"
