//! The archive's stream stages on their own threads: `tar | zstd | age` on the way
//! out, `age -d | zstd -d | tar` on the way in.
//!
//! Invariants:
//! - Memory is bounded: stages pass chunks of at most [`CHUNK`] bytes through channels
//!   of [`DEPTH`] chunks, whatever the size of a record, an attachment or the archive.
//! - An error anywhere reaches the caller: a stage that fails drops its end of the
//!   channel, so its neighbours see a broken pipe (writers) or a truncated stream
//!   (readers), and the stage's own error is what the caller reports.
//! - Nothing here knows the bag's layout.

use std::io::{self, Read, Write};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Bytes per chunk passed between stages.
pub const CHUNK: usize = 256 * 1024;
/// Chunks in flight between two stages (8 MiB): enough slack that a stage descheduled
/// for a moment on a busy machine does not stall the others.
pub const DEPTH: usize = 32;

/// The sending end of a pipe between two threads. A chunk is `Ok(bytes)`; the sender
/// dropping without [`PipeWriter::finish`] means the stream was cut short.
pub struct PipeWriter {
    tx: SyncSender<Msg>,
    buf: Vec<u8>,
}

enum Msg {
    Data(Vec<u8>),
    End,
}

/// The receiving end. `read` returns an error if the writer went away without
/// finishing: a producer's failure is never mistaken for the end of the stream.
pub struct PipeReader {
    rx: Receiver<Msg>,
    cur: Vec<u8>,
    pos: usize,
    ended: bool,
}

/// A pipe: bounded by [`DEPTH`] chunks of [`CHUNK`] bytes.
pub fn pipe() -> (PipeWriter, PipeReader) {
    let (tx, rx) = sync_channel(DEPTH);
    (
        PipeWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
        },
        PipeReader {
            rx,
            cur: Vec::new(),
            pos: 0,
            ended: false,
        },
    )
}

fn broken() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "the next stage stopped")
}

impl PipeWriter {
    fn send_buf(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let full = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.tx.send(Msg::Data(full)).map_err(|_| broken())
    }

    /// Marks the end of a complete stream.
    pub fn finish(mut self) -> io::Result<()> {
        self.send_buf()?;
        self.tx.send(Msg::End).map_err(|_| broken())
    }
}

impl Write for PipeWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(CHUNK - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == CHUNK {
            self.send_buf()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PipeReader {
    /// The rest of the current chunk, or the next one; `None` at the end of a finished
    /// stream. Saves the copy `read` makes.
    pub fn next_chunk(&mut self) -> io::Result<Option<Vec<u8>>> {
        if self.pos < self.cur.len() {
            let rest = self.cur.split_off(self.pos);
            self.cur.clear();
            self.pos = 0;
            return Ok(Some(rest));
        }
        loop {
            if self.ended {
                return Ok(None);
            }
            match self.rx.recv() {
                Ok(Msg::Data(d)) if d.is_empty() => {}
                Ok(Msg::Data(d)) => return Ok(Some(d)),
                Ok(Msg::End) => self.ended = true,
                Err(_) => return Err(stopped()),
            }
        }
    }

    /// Writes everything that comes through into `w`, chunk by chunk.
    pub fn drain_into(&mut self, w: &mut impl Write) -> io::Result<u64> {
        let mut n = 0u64;
        while let Some(c) = self.next_chunk()? {
            w.write_all(&c)?;
            n += c.len() as u64;
        }
        Ok(n)
    }
}

fn stopped() -> io::Error {
    // BrokenPipe, as for a writer: the consequence of another stage's error.
    io::Error::new(
        io::ErrorKind::BrokenPipe,
        "the previous stage stopped before the end of the stream",
    )
}

impl Read for PipeReader {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.cur.len() {
            if self.ended {
                return Ok(0);
            }
            match self.rx.recv() {
                Ok(Msg::Data(d)) => {
                    self.cur = d;
                    self.pos = 0;
                }
                Ok(Msg::End) => self.ended = true,
                Err(_) => return Err(stopped()),
            }
        }
        let n = out.len().min(self.cur.len() - self.pos);
        out[..n].copy_from_slice(&self.cur[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// A stage running on its own thread; `join` returns its result.
pub struct Stage<T>(JoinHandle<io::Result<T>>);

impl<T: Send + 'static> Stage<T> {
    pub fn spawn(
        name: &str,
        f: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> io::Result<Self> {
        std::thread::Builder::new()
            .name(name.to_string())
            .spawn(f)
            .map(Stage)
    }
    pub fn join(self) -> io::Result<T> {
        self.0
            .join()
            .unwrap_or_else(|_| Err(io::Error::other("an archive stage panicked")))
    }
}

/// A stage's failure of its own: `None` when it succeeded, or failed only because a
/// neighbour stopped (a broken pipe either way, the consequence of another error).
pub fn own_failure<T>(r: &io::Result<T>) -> Option<&io::Error> {
    match r {
        Err(e) if e.kind() != io::ErrorKind::BrokenPipe => Some(e),
        _ => None,
    }
}

/// Copies `r` into `w` in [`CHUNK`]-sized reads.
pub fn copy(r: &mut impl Read, w: &mut impl Write) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut n = 0u64;
    loop {
        let k = match r.read(&mut buf) {
            Ok(0) => return Ok(n),
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        w.write_all(&buf[..k])?;
        n += k as u64;
    }
}

/// Hashes (BLAKE3) and counts what is read from the archive file, so that a check can
/// say which bytes it verified (a transfer names exactly those).
pub struct HashingReader<R> {
    inner: R,
    seen: std::sync::Arc<std::sync::Mutex<(blake3::Hasher, u64)>>,
}

/// What a [`HashingReader`] has read so far.
pub type ReadHash = std::sync::Arc<std::sync::Mutex<(blake3::Hasher, u64)>>;

impl<R> HashingReader<R> {
    pub fn new(inner: R) -> (Self, ReadHash) {
        let seen = ReadHash::default();
        (
            HashingReader {
                inner,
                seen: seen.clone(),
            },
            seen,
        )
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(out)?;
        let mut g = self
            .seen
            .lock()
            .map_err(|_| io::Error::other("archive hash lock poisoned"))?;
        g.0.update(&out[..n]);
        g.1 += n as u64;
        Ok(n)
    }
}

/// Writes the archive file: counts and hashes (BLAKE3) what passes through, and every
/// [`WRITEBACK`] bytes asks a background thread to `fdatasync` what was written so far,
/// so that the disk writes overlap the work of the other stages and the final fsync
/// waits only for the tail.
pub struct FileSink {
    file: std::fs::File,
    pub hasher: blake3::Hasher,
    pub written: u64,
    since_sync: u64,
    /// The writeback thread, and what it returns: its first error. On Linux an fsync
    /// error is reported once per open file description, so an error the thread saw
    /// would not come back from the final `sync_all`: it must be kept.
    syncer: Option<(SyncSender<()>, JoinHandle<io::Result<()>>)>,
}

/// Bytes between two background writebacks.
pub const WRITEBACK: u64 = 8 << 20;

impl FileSink {
    pub fn new(file: std::fs::File) -> io::Result<Self> {
        let clone = file.try_clone()?;
        let (tx, rx) = sync_channel::<()>(1);
        let handle = std::thread::Builder::new()
            .name("archive-writeback".into())
            .spawn(move || {
                while rx.recv().is_ok() {
                    clone.sync_data()?;
                }
                Ok(())
            })?;
        Ok(FileSink {
            file,
            hasher: blake3::Hasher::new(),
            written: 0,
            since_sync: 0,
            syncer: Some((tx, handle)),
        })
    }

    /// Stops the writeback thread, reports its first error, then makes everything
    /// durable.
    pub fn finish(mut self) -> io::Result<(blake3::Hash, u64)> {
        if let Some((tx, h)) = self.syncer.take() {
            drop(tx);
            h.join()
                .unwrap_or_else(|_| Err(io::Error::other("the writeback thread panicked")))?;
        }
        self.file.sync_all()?;
        Ok((self.hasher.finalize(), self.written))
    }
}

impl Write for FileSink {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.file.write(data)?;
        self.hasher.update(&data[..n]);
        self.written += n as u64;
        self.since_sync += n as u64;
        if self.since_sync >= WRITEBACK {
            self.since_sync = 0;
            if let Some((tx, _)) = &self.syncer {
                // A writeback already pending covers this one too.
                let _ = tx.try_send(());
            }
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_finished_stream_arrives_whole() {
        let (mut w, mut r) = pipe();
        let t = std::thread::spawn(move || {
            for i in 0..1000u32 {
                w.write_all(&i.to_be_bytes().repeat(300)).unwrap();
            }
            w.finish().unwrap();
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).unwrap();
        t.join().unwrap();
        assert_eq!(got.len(), 1000 * 4 * 300);
        assert_eq!(&got[..4], &0u32.to_be_bytes());
    }

    #[test]
    fn chunks_after_a_partial_read_lose_nothing() {
        let (mut w, mut r) = pipe();
        let data: Vec<u8> = (0..CHUNK * 3 + 5).map(|i| (i % 251) as u8).collect();
        let d2 = data.clone();
        let t = std::thread::spawn(move || {
            w.write_all(&d2).unwrap();
            w.finish().unwrap();
        });
        let mut got = vec![0u8; 10];
        r.read_exact(&mut got).unwrap();
        let mut rest = Vec::new();
        r.drain_into(&mut rest).unwrap();
        got.extend(rest);
        t.join().unwrap();
        assert_eq!(got, data);
        assert!(r.next_chunk().unwrap().is_none());
    }

    #[test]
    fn a_writer_that_stops_early_is_an_error_not_an_end() {
        let (mut w, mut r) = pipe();
        w.write_all(b"partial").unwrap();
        drop(w);
        let mut got = Vec::new();
        assert!(r.read_to_end(&mut got).is_err());
        let (mut w, mut r) = pipe();
        w.write_all(b"partial").unwrap();
        drop(w);
        assert!(r.next_chunk().is_err(), "cut short, not ended");
    }

    #[test]
    fn a_reader_that_stops_breaks_the_writer() {
        let (mut w, r) = pipe();
        drop(r);
        let big = vec![0u8; CHUNK * 2];
        assert!(w.write_all(&big).is_err());
    }
}
