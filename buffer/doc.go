// Package buffer holds each sink's queue of records between the pipeline and
// the sink: a segmented log on disk (Disk) that survives crashes, or a
// queue in memory (Memory) for users who prefer speed to durability. Both
// implement Buffer. Records are opaque bytes (batches framed by encode);
// this package never looks inside them.
//
// # Delivery guarantee
//
// At least once: after any crash, every record that WaitDurable reported
// durable is either read again or was acknowledged before the crash.
// Duplicates are limited to the records read but not yet durably
// acknowledged: those after the cursor file's id.
//
// # Layout
//
// Each sink has its own directory under the data directory,
// <data_dir>/<sink>/ (see SinkDir), so sinks are isolated in their limits
// and in any corruption. A sink's directory holds:
//
//	00000000000000000001.seg   segments, named by the id of their first record:
//	00000000000000004097.seg   20 decimal digits, so names sort like ids
//	cursor                     the last acknowledged id
//	cursor.tmp                 only while the cursor is being replaced
//	buffer-id                  the buffer's identity (see DirID)
//
// # Segment format
//
// All integers are little endian. A segment starts with a 16-byte header:
//
//	magic "AYBF" | version (1 byte, 1) | 3 zero bytes | first id (uint64, as in the name)
//
// followed by records, each one frame:
//
//	length (uint32) | crc (uint32) | id (uint64) | payload (length bytes)
//
// crc is the CRC32C (Castagnoli) of the length, the id and the payload. Ids
// start at 1, increase by one per record and never wrap: Append fails with
// ErrIDsExhausted after id 2^64-2. A new segment starts when the next frame
// would take the active one past Options.SegmentSize; a record too large
// for a segment is refused (Options.MaxRecordSize).
//
// # Cursor format
//
//	magic "AYBC" | version (1 byte, 1) | 3 zero bytes | acknowledged id (uint64) | crc (uint32)
//
// 20 bytes, crc being the CRC32C of the 16 bytes before it. It is replaced
// atomically: write cursor.tmp, fsync it, rename it over cursor, fsync the
// directory.
//
// # Durability
//
// Appends are written in page-aligned pieces: each write starts and ends on
// a 4 KiB boundary, and the bytes after the last boundary (less than a
// page) wait in memory for the next append or the next group sync, which
// writes them; the next write rewrites those same bytes from the page
// boundary. (Unaligned writes cost the page cache about 1.7 times as much.)
// Records are made durable by a group fsync, every Options.SyncInterval or
// sooner after Options.SyncBytes, or before Append returns with
// Options.Sync = SyncAlways. A record is
// durable only after the fsync that covers it; only durable records are
// handed to the reader, so a sink never delivers a record a crash could
// take back. Before a new segment is used, the previous one is fsynced
// (so every segment but the last is complete on disk) and the directory
// is fsynced (so the new file survives).
//
// Acknowledgements are kept in memory and written to the cursor at the
// next group sync and at Close. A segment is deleted once the
// acknowledgement passes its end.
//
// An fsync error is fatal (fail-stop): the buffer reports ErrFailed from
// then on and never retries the fsync on the same file, because the kernel
// may already have dropped the pages it could not write. Close and Open
// again to recover from what is on disk. Out of space (ENOSPC, EDQUOT) is
// not an error but "full": a partial write is truncated away, and the
// append waits (block) or is dropped and counted (drop_newest) until space
// returns. Records already accepted whose bytes are still in memory stay
// there, not yet durable, until a sync can write them.
//
// # Limits
//
// The segment files of one buffer never exceed Options.MaxSize. When full,
// Options.WhenFull decides: block waits for acknowledgements to free a
// segment (back-pressure on the pipeline, so capture drops, and counts,
// in the kernel), drop_newest refuses the record for this sink alone and
// counts it in Stats.Dropped.
//
// # Recovery rules (Open)
//
//   - The directory is listed; names that are neither segments nor cursor
//     files are logged and ignored, a leftover cursor.tmp is removed.
//   - A missing cursor means nothing is acknowledged: every record held is
//     delivered. An unreadable cursor (bad size, magic or checksum) is
//     counted in Stats.CorruptCursors and treated as missing.
//   - Only the last segment can hold writes that were never fsynced. It is
//     scanned to its end; everything after its last good record (a torn
//     frame, a frame with a bad checksum or length, zeros) is a torn tail,
//     truncated and counted in Stats.TornTails, and the rest is fsynced. A
//     last segment without a good record is removed.
//   - Records are never appended to an existing segment: Open starts a
//     fresh one, named for the next id.
//   - The next id is one past the largest of: the last good id, the
//     cursor, and any segment name. Ids are never reused for records that
//     were durable or acknowledged.
//   - Segments the cursor has passed are deleted. A cursor ahead of the
//     data skips to it; a cursor behind the data (segments deleted after
//     an acknowledgement whose cursor write was lost) starts at the first
//     segment left.
//   - Older segments are checked as the reader reaches them: a frame with a
//     sane length but a bad checksum, or a good checksum but an id that
//     does not increase, is skipped alone and counted in
//     Stats.CorruptRecords; a garbage length, a zeroed frame header or a
//     frame running past the end of the file abandons the rest of that
//     segment, and a bad segment header the whole segment, counted in
//     Stats.CorruptSegments. Reading then continues with the next segment.
//
// None of these stops Open: a damaged buffer loses the damaged records and
// no more, and never crash-loops. Scan (ayaflow buffer verify) reports each
// of them with its sink, segment file and offset without changing anything.
package buffer
