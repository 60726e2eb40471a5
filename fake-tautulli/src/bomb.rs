//! A gzip stream of any decoded size, made without compressing it all: the body of
//! [`crate::Fault::GzipBomb`].
//!
//! After a full flush a deflate compressor starts afresh, so every 1 MiB block of spaces
//! compresses to the same bytes: one block is compressed (checked against a second), then
//! its bytes are sent again for each further block. The CRC is combined block by block in the
//! same way. Sending 4 GiB of decoded spaces costs the fake ~4 MB of writes and two block
//! compressions, so the client's work is what a test measures.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use flate2::{Compress, Compression, Crc, FlushCompress, Status};

const BLOCK: usize = 1 << 20;
/// Magic, deflate, no flags, no mtime, no extra flags, OS unknown.
const HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255];

/// Writes one gzip member that decodes to `prefix` then spaces, `total` bytes in all (the
/// prefix cut to `total` if longer). Stops with an error when `stop` is set.
pub(crate) fn write_gzip(
    w: &mut impl Write,
    prefix: &[u8],
    total: u64,
    stop: &AtomicBool,
) -> io::Result<()> {
    let prefix = &prefix[..usize::try_from(total).map_or(prefix.len(), |t| t.min(prefix.len()))];
    let spaces = total - prefix.len() as u64;
    let block = vec![b' '; BLOCK];
    let mut z = Compress::new(Compression::best(), false);
    let mut crc = Crc::new();
    w.write_all(&HEADER)?;
    w.write_all(&deflate(&mut z, prefix, FlushCompress::Full)?)?;
    crc.update(prefix);

    let blocks = spaces / BLOCK as u64;
    let mut block_crc = Crc::new();
    block_crc.update(&block);
    // The compressed block once it is known to repeat.
    let mut repeated: Option<Vec<u8>> = None;
    let mut previous: Option<Vec<u8>> = None;
    for _ in 0..blocks {
        if stop.load(Ordering::SeqCst) {
            return Err(io::Error::new(
                io::ErrorKind::Interrupted,
                "server stopping",
            ));
        }
        match &repeated {
            Some(bytes) => w.write_all(bytes)?,
            None => {
                let bytes = deflate(&mut z, &block, FlushCompress::Full)?;
                w.write_all(&bytes)?;
                if previous.as_ref() == Some(&bytes) {
                    repeated = Some(bytes);
                } else {
                    previous = Some(bytes);
                }
            }
        }
        crc.combine(&block_crc);
    }
    let rest = &block[..(spaces % BLOCK as u64) as usize];
    w.write_all(&deflate(&mut z, rest, FlushCompress::Finish)?)?;
    crc.update(rest);
    w.write_all(&crc.sum().to_le_bytes())?;
    // ISIZE: the decoded length modulo 2^32.
    w.write_all(&(total as u32).to_le_bytes())?;
    Ok(())
}

/// `input` deflated to the end of a `flush` (all output out, byte aligned).
fn deflate(z: &mut Compress, input: &[u8], flush: FlushCompress) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(input.len() / 256 + 4096);
    let mut used = 0;
    loop {
        if out.capacity() - out.len() < 1024 {
            out.reserve(out.capacity());
        }
        let before = z.total_in();
        let status = z
            .compress_vec(&input[used..], &mut out, flush)
            .map_err(io::Error::other)?;
        used += (z.total_in() - before) as usize;
        let room_left = out.len() < out.capacity();
        match status {
            Status::StreamEnd => return Ok(out),
            _ if used == input.len() && room_left && !matches!(flush, FlushCompress::Finish) => {
                return Ok(out)
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn decoded(prefix: &[u8], total: u64) -> (Vec<u8>, usize) {
        let mut gz = Vec::new();
        write_gzip(&mut gz, prefix, total, &AtomicBool::new(false)).unwrap();
        let mut out = Vec::new();
        // One member, its CRC and length checked.
        flate2::read::GzDecoder::new(&gz[..])
            .read_to_end(&mut out)
            .unwrap();
        (out, gz.len())
    }

    #[test]
    fn decodes_to_the_prefix_then_spaces_of_any_length() {
        let prefix = b"{\"response\":";
        for total in [0, 5, 12, 13, 1000, BLOCK as u64, 3 * BLOCK as u64 + 777] {
            let (out, _) = decoded(prefix, total);
            assert_eq!(out.len() as u64, total);
            let head = prefix.len().min(total as usize);
            assert_eq!(&out[..head], &prefix[..head]);
            assert!(out[head..].iter().all(|&b| b == b' '), "{total}");
        }
    }

    #[test]
    fn blocks_repeat_so_the_stream_stays_small() {
        let total = 32 * BLOCK as u64;
        let (out, wire) = decoded(b"", total);
        assert_eq!(out.len() as u64, total);
        assert!(wire < (total / 800) as usize, "{wire} bytes for {total}");
    }

    #[test]
    fn a_stop_ends_the_stream() {
        let mut sink = Vec::new();
        let e = write_gzip(&mut sink, b"", 1 << 40, &AtomicBool::new(true)).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::Interrupted);
    }
}
