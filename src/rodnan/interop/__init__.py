"""Adapters between the core and the standards of clinical data: the home of the exporters and importers.

The coming CDISC ODM (1.3.2), SDTM and ADaM exports, FHIR R4 resources and REDCap import and export live
here, one sub-package per standard (``odm``, ``sdtm``, ``adam``, ``fhir``, ``redcap``). Each is pure Python
over core records and the protocol: it may import :mod:`rodnan.core` and :mod:`rodnan.errors`, never
Django, the web application, the CLI or the reports (import-linter enforces it; decision 0009). The web,
the CLI and the reports call it.
"""
