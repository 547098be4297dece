"""Object storage for sources, slugs and log archives: one narrow protocol, two backends.

`base.ObjectStore` is the protocol callers depend on; `filesystem.FilesystemStore` keeps objects
in a directory (the embedded platform), `s3.S3Store` in one bucket of any S3 endpoint (MinIO, Ceph
RGW, AWS). `opening.open_store` picks and opens one from settings. Keys are checked by the named
security boundary in `keys` before any I/O; failures are raised as the tree in `errors`.
"""
