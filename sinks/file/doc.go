// Package file is the sink that writes events to rotating NDJSON files,
// optionally compressed, one series of files per event kind.
//
// # Files
//
// Options.Path is a template: with the default "ayaflow-{kind}-{date}.ndjson"
// a flow batch written on 2025-01-02 (UTC) goes to
//
//	ayaflow-flow-2025-01-02.ndjson        first file of the day
//	ayaflow-flow-2025-01-02.1.ndjson      after the first rotation
//	ayaflow-flow-2025-01-02.2.ndjson.zst  with Compression zstd
//
// A file is rotated before a batch when the batch would take it past
// RotateBytes, when it is RotateAge old, or when its {date} or {hour}
// changes. A new file's index is one more than the highest index of its
// name on disk, so files sort in the order they were written and a
// restarted sink never appends to an earlier run's file. After a rotation
// the oldest files of the kind beyond MaxFiles are deleted.
//
// # Format
//
// Each file holds whole NDJSON lines: one JSON object per event, in batch
// order. A batch is appended with a single write call:
//
//   - none: the lines themselves.
//   - zstd: one zstd frame per batch (with a content checksum).
//   - gzip: one gzip member per batch.
//
// Concatenated zstd frames and gzip members decode as one stream, so
// `zstdcat F | jq` and `gzip -dc F | jq` read a file whole, closed or not.
// Framing per batch rather than one stream per file costs a little ratio
// (each batch is compressed without the previous ones' history: see
// BenchmarkCodecs) and buys two things: a file is complete after every
// Write, so a crash or kill between batches leaves a file that decodes
// without error to every acknowledged batch; and a failed write can be cut
// off the file at a frame boundary, which a single stream, whose encoder
// state already holds the failed data, would not allow.
//
// # Failures
//
// A write that fails (a full disk, an I/O error) is truncated off the file,
// which then again ends with its last whole batch, and Write returns a
// retryable error; the retry appends the batch whole. A process killed in
// the middle of a write, or a machine losing power before its data reached
// the disk, can leave a torn batch at the end of the last file: readers
// then see the earlier batches and an error at the end (a decoder error, or
// a last line without its newline). The sink never appends to a file it
// did not create in this run, so a torn batch stays at the very end of a
// file. With FsyncEveryBatch, Write returns only after fsync, so an
// acknowledged batch survives a power loss.
package file
