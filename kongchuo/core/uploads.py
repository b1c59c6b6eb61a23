"""Uploaded files kept under a generated name in the data directory (never the web root)."""

import uuid

from django.conf import settings


def save_upload(upload, folder: str, suffix: str) -> str:
    """Write `upload` (a Django UploadedFile) to FILES_DIR/<folder>/<random><suffix>; returns the stored name."""
    target = settings.FILES_DIR / folder
    target.mkdir(parents=True, exist_ok=True)
    stored = uuid.uuid4().hex + suffix
    with open(target / stored, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)
    return stored
