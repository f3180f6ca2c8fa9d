//! A file written from async code without blocking it: bytes are gathered into 1 MiB blocks
//! and handed to one blocking writer thread through a short queue, so the network keeps
//! reading while the disk writes, memory stays bounded, and the data reaches the disk
//! (`sync_data`) in steps instead of in one long flush at the end.
//!
//! A sink that is dropped before [`FileSink::finish`] (an error, or the caller dropping the
//! download future) deletes its file: an abandoned download never leaves bytes behind.

use std::fs::File;
use std::io::{self, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Bytes gathered before one write to disk.
const BLOCK: usize = 1024 * 1024;
/// Blocks queued for the writer; the network waits when the disk is this far behind.
const QUEUE: usize = 4;
/// Bytes written between two `sync_data` calls on the writer thread.
const SYNC_EVERY: u64 = 32 * 1024 * 1024;

enum Op {
    Write(Vec<u8>),
    Truncate,
}

/// See the module documentation.
pub(crate) struct FileSink {
    block: Vec<u8>,
    ops: Option<mpsc::Sender<Op>>,
    spare: std::sync::mpsc::Receiver<Vec<u8>>,
    writer: Option<JoinHandle<io::Result<()>>>,
    keep: Arc<AtomicBool>,
}

impl FileSink {
    /// Creates (or truncates) the file at `path`.
    pub(crate) async fn create(path: &Path) -> io::Result<Self> {
        let file = tokio::fs::File::create(path).await?.into_std().await;
        let (ops, rx) = mpsc::channel(QUEUE);
        let (spare_tx, spare) = std::sync::mpsc::sync_channel(QUEUE + 1);
        let keep = Arc::new(AtomicBool::new(false));
        let writer = {
            let keep = keep.clone();
            let path = path.to_owned();
            tokio::task::spawn_blocking(move || {
                let result = write_all(file, rx, spare_tx);
                if !keep.load(Ordering::SeqCst) {
                    let _ = std::fs::remove_file(&path);
                }
                result
            })
        };
        Ok(Self {
            block: Vec::with_capacity(BLOCK),
            ops: Some(ops),
            spare,
            writer: Some(writer),
            keep,
        })
    }

    /// Appends `bytes`.
    pub(crate) async fn write(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            let room = BLOCK - self.block.len();
            let (now, later) = bytes.split_at(room.min(bytes.len()));
            self.block.extend_from_slice(now);
            bytes = later;
            if self.block.len() == BLOCK {
                let next = self
                    .spare
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(BLOCK));
                let full = std::mem::replace(&mut self.block, next);
                self.send(Op::Write(full)).await?;
            }
        }
        Ok(())
    }

    /// Throws away everything written so far.
    pub(crate) async fn truncate(&mut self) -> io::Result<()> {
        self.block.clear();
        self.send(Op::Truncate).await
    }

    /// Writes what is left, waits until the file is on disk (`sync_all`) and keeps it.
    pub(crate) async fn finish(mut self) -> io::Result<()> {
        let last = std::mem::take(&mut self.block);
        if !last.is_empty() {
            self.send(Op::Write(last)).await?;
        }
        self.keep.store(true, Ordering::SeqCst);
        self.ops = None;
        self.join().await
    }

    /// Stops writing and waits until the writer has deleted the file.
    pub(crate) async fn discard(mut self) {
        self.ops = None;
        let _ = self.join().await;
    }

    async fn send(&mut self, op: Op) -> io::Result<()> {
        let sent = match &self.ops {
            Some(ops) => ops.send(op).await.is_ok(),
            None => false,
        };
        if sent {
            return Ok(());
        }
        // The writer stopped: its error says why.
        self.ops = None;
        self.join().await?;
        Err(io::Error::other("the file writer stopped"))
    }

    async fn join(&mut self) -> io::Result<()> {
        match self.writer.take() {
            Some(writer) => writer.await.map_err(io::Error::other)?,
            None => Ok(()),
        }
    }
}

/// The writer thread: applies the queued operations, syncing every [`SYNC_EVERY`] bytes and
/// at the end, and returns emptied blocks for reuse.
fn write_all(
    mut file: File,
    mut ops: mpsc::Receiver<Op>,
    spare: std::sync::mpsc::SyncSender<Vec<u8>>,
) -> io::Result<()> {
    let mut unsynced = 0u64;
    while let Some(op) = ops.blocking_recv() {
        match op {
            Op::Write(mut block) => {
                file.write_all(&block)?;
                unsynced += block.len() as u64;
                if unsynced >= SYNC_EVERY {
                    file.sync_data()?;
                    unsynced = 0;
                }
                block.clear();
                let _ = spare.try_send(block);
            }
            Op::Truncate => {
                file.set_len(0)?;
                file.seek(SeekFrom::Start(0))?;
                unsynced = 0;
            }
        }
    }
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("roger-sink-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir.join(name)
    }

    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    #[tokio::test]
    async fn writes_in_any_piece_sizes_arrive_whole_and_in_order() {
        let path = temp("whole.bin");
        let data = pattern(3 * BLOCK + 12_345);
        let mut sink = FileSink::create(&path).await.unwrap();
        for piece in data.chunks(70_001) {
            sink.write(piece).await.unwrap();
        }
        sink.finish().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn truncate_starts_the_file_over() {
        let path = temp("truncate.bin");
        let mut sink = FileSink::create(&path).await.unwrap();
        sink.write(&pattern(2 * BLOCK + 5)).await.unwrap();
        sink.truncate().await.unwrap();
        sink.write(b"fresh").await.unwrap();
        sink.finish().await.unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"fresh");
        std::fs::remove_file(&path).unwrap();
    }

    #[tokio::test]
    async fn a_discarded_or_dropped_sink_leaves_no_file() {
        let path = temp("discard.bin");
        let mut sink = FileSink::create(&path).await.unwrap();
        sink.write(&pattern(BLOCK + 1)).await.unwrap();
        sink.discard().await;
        assert!(!path.exists());

        let path = temp("dropped.bin");
        let mut sink = FileSink::create(&path).await.unwrap();
        sink.write(&pattern(2 * BLOCK)).await.unwrap();
        drop(sink);
        // The writer thread deletes the file once the queue is closed.
        for _ in 0..200 {
            if !path.exists() {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(10)).await;
        }
        panic!("the abandoned file is still there");
    }
}
