"""Recordings to disk: key-to-file-name rules, the sink, one download, bulk export.

Layers inside the package, each importing only those above it:

- :mod:`.names`: the file name a key maps to (reserved names included);
- :mod:`.directory`: a directory held open (every file operation relative to it)
  and the locks that keep two runs from sharing files;
- :mod:`.sink`: the part file, written and hashed off the event loop, renamed into
  place atomically, never through a symbolic link;
- :mod:`.store`: a key's URL, the paged listing, deleting;
- :mod:`.download`: one recording, resumed only with a validator and finalised
  only when it holds exactly the recording's total; the body wrapper for streams;
- :mod:`.manifest` and :mod:`.export`: the bulk export (workers, manifest, deferred
  deletes, report).

``sinch.recordings`` (:mod:`sinch_calling.api.recordings`) delegates to these.
"""

from .directory import BusyError
from .download import (
    DOWNLOAD_TIMEOUT,
    RECORDING_HEADERS,
    Downloaded,
    RecordingBody,
    download_file,
    receive_file,
)
from .export import ExportFailure, ExportProgress, ExportReport, run_export
from .manifest import ManifestEntry, read_manifest
from .names import MANIFEST_NAME, MAX_NAME_BYTES, RESERVED_NAMES, file_name_for_key
from .sink import DEFAULT_FLUSH_SIZE, FileSink, Validator, part_paths

__all__ = [
    "DEFAULT_FLUSH_SIZE",
    "DOWNLOAD_TIMEOUT",
    "MANIFEST_NAME",
    "MAX_NAME_BYTES",
    "RECORDING_HEADERS",
    "RESERVED_NAMES",
    "BusyError",
    "Downloaded",
    "ExportFailure",
    "ExportProgress",
    "ExportReport",
    "FileSink",
    "ManifestEntry",
    "RecordingBody",
    "Validator",
    "download_file",
    "file_name_for_key",
    "part_paths",
    "read_manifest",
    "receive_file",
    "run_export",
]
