"""Sources of files: the local disk now, Google Drive and Dropbox next."""
