"""Pure rules of the Deis data model: validation, formats, credentials; no I/O."""
