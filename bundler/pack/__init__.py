"""Pack: a vendored project as something to upload.

A reproducible submission tarball (:mod:`.archive`) or a Kaggle dataset
folder for notebook competitions (:mod:`.dataset`).
"""
