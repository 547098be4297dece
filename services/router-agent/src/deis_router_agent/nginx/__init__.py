"""nginx itself: the files of a release on disk, `nginx -t`, the master process, its status."""
