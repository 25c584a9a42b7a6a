//! Content-addressed file storage under the data directory: customer documents and ticket
//! attachments keep their bytes here, their metadata in the database (`store::documents`).
//!
//! A file is named by the SHA-256 of its bytes, `<data_dir>/blobs/ab/cdef...` (the first
//! two hex digits are a folder, so no folder holds more than 1/256 of the files). Writing goes
//! to a temporary file in the same folder, is synced, and is renamed into place, so a reader
//! never sees a torn file and the same bytes stored twice are one file. The type is sniffed
//! from the bytes, never taken from the file name or the client's Content-Type: PDF, PNG,
//! JPEG and WebP are accepted, anything else is VALIDATION. The data directory is used on
//! PostgreSQL too: every process of a deployment needs it (a shared volume).

use crate::error::{CoreError, CoreResult};
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

/// A file type this store accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `application/pdf`.
    Pdf,
    /// `image/png`.
    Png,
    /// `image/jpeg`.
    Jpeg,
    /// `image/webp`.
    Webp,
}

impl Kind {
    /// The MIME type served with the file.
    pub fn mime(self) -> &'static str {
        match self {
            Kind::Pdf => "application/pdf",
            Kind::Png => "image/png",
            Kind::Jpeg => "image/jpeg",
            Kind::Webp => "image/webp",
        }
    }

    /// The usual file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Kind::Pdf => "pdf",
            Kind::Png => "png",
            Kind::Jpeg => "jpg",
            Kind::Webp => "webp",
        }
    }
}

/// The type of `bytes` from their signature, if it is one this store accepts.
pub fn sniff(bytes: &[u8]) -> Option<Kind> {
    // PDF 1.7 (ISO 32000-1) §7.5.2: the header is "%PDF-"; readers accept it within the
    // first 1024 bytes, but a file we store must start with it.
    if bytes.starts_with(b"%PDF-") {
        Some(Kind::Pdf)
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        // PNG spec §5.2: the 8-byte signature.
        Some(Kind::Png)
    } else if bytes.len() >= 4 && bytes.starts_with(b"\xff\xd8\xff") {
        // JPEG (ITU T.81 B.1.1.3): SOI marker, then another marker.
        Some(Kind::Jpeg)
    } else if bytes.len() >= 16 && &bytes[0..4] == b"RIFF" && &bytes[8..12] == b"WEBP" {
        // RIFF container with the WEBP form type (RFC 9649 §2.4).
        Some(Kind::Webp)
    } else {
        None
    }
}

/// The lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut s = String::with_capacity(64);
    for b in digest {
        s.push_str(&format!("{b:02x}"));
    }
    s
}

/// Checks `bytes` against the size limit and sniffs their type: VALIDATION on `field` when
/// empty, too large, or of a type that is not accepted.
pub fn check(field: &str, bytes: &[u8], max_bytes: i64) -> CoreResult<Kind> {
    if bytes.is_empty() {
        return Err(CoreError::validation(field, "the file is empty"));
    }
    if bytes.len() as i64 > max_bytes {
        return Err(CoreError::validation(
            field,
            format!("the file is {} bytes; the limit is {max_bytes} bytes", bytes.len()),
        ));
    }
    sniff(bytes).ok_or_else(|| CoreError::validation(field, "only PDF, PNG, JPEG and WebP files are accepted"))
}

/// An uploaded file as a use case receives it.
#[derive(Debug, Clone)]
pub struct FileUpload {
    /// The name the client gave it (only its last path part is kept).
    pub file_name: String,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

/// A file checked and written to the store, ready for its metadata rows.
#[derive(Debug, Clone)]
pub struct Stored {
    /// SHA-256, the file's name in the store.
    pub sha256: String,
    /// Sniffed type.
    pub kind: Kind,
    /// Size in bytes.
    pub size: i64,
    /// The name to download it as: the client's name, cleaned, with the extension of the
    /// sniffed type.
    pub file_name: String,
}

/// A safe download name: the last path part of `given` without control characters, quotes
/// or separators, at most 100 characters, its extension replaced by `kind`'s.
pub fn file_name(given: &str, kind: Kind) -> String {
    let base = given.rsplit(['/', '\\']).next().unwrap_or_default();
    let stem = match base.rsplit_once('.') {
        Some((s, _)) if !s.is_empty() => s,
        _ => base,
    };
    let clean: String =
        stem.chars().filter(|c| !c.is_control() && !matches!(c, '"' | '\'' | ';' | '/' | '\\')).take(100).collect();
    let clean = clean.trim().trim_start_matches('.');
    let stem = if clean.is_empty() { "file" } else { clean };
    format!("{stem}.{}", kind.extension())
}

/// A folder of content-addressed files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    /// The store under `<data_dir>/blobs`.
    pub fn new(data_dir: &Path) -> Self {
        Self { root: data_dir.join("blobs") }
    }

    /// Where the file of `sha256` (64 lower-case hex digits) lives.
    pub fn path(&self, sha256: &str) -> CoreResult<PathBuf> {
        if sha256.len() != 64 || !sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
            return Err(CoreError::internal(format!("not a SHA-256: {sha256:?}")));
        }
        Ok(self.root.join(&sha256[..2]).join(&sha256[2..]))
    }

    /// Stores `bytes` under their SHA-256 and returns it; a file already there is kept (same
    /// name, same bytes). Blocking file I/O: call it through [`BlobStore::put`].
    pub fn put_blocking(&self, bytes: &[u8]) -> CoreResult<String> {
        let sha = sha256_hex(bytes);
        let path = self.path(&sha)?;
        if path.exists() {
            return Ok(sha);
        }
        let dir = path.parent().expect("a blob path has a folder");
        std::fs::create_dir_all(dir).map_err(|e| io("create", dir, e))?;
        let tmp = dir.join(format!(".{}.{}.tmp", &sha[2..], tmp_suffix()));
        let written = (|| {
            let mut f = std::fs::File::create(&tmp)?;
            f.write_all(bytes)?;
            f.sync_all()?;
            std::fs::rename(&tmp, &path)?;
            // The rename is durable once the folder is synced.
            std::fs::File::open(dir)?.sync_all()
        })();
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(io("write", &path, e));
        }
        Ok(sha)
    }

    /// [`BlobStore::put_blocking`] on a blocking thread.
    pub async fn put(&self, bytes: std::sync::Arc<Vec<u8>>) -> CoreResult<String> {
        let store = self.clone();
        tokio::task::spawn_blocking(move || store.put_blocking(&bytes))
            .await
            .map_err(|e| CoreError::internal(format!("blob writer stopped: {e}")))?
    }

    /// Checks `file` (size limit `max_bytes`, sniffed type; VALIDATION on `field`) and
    /// stores its bytes, before the use case's transaction writes the rows that point at it.
    /// A file whose rows then roll back stays unreferenced, which is harmless: the same bytes
    /// map to the same file.
    pub async fn stage(&self, field: &str, file: FileUpload, max_bytes: i64) -> CoreResult<Stored> {
        let kind = check(field, &file.bytes, max_bytes)?;
        let size = file.bytes.len() as i64;
        let file_name = file_name(&file.file_name, kind);
        let sha256 = self.put(std::sync::Arc::new(file.bytes)).await?;
        Ok(Stored { sha256, kind, size, file_name })
    }

    /// The bytes of `sha256`; NOT_FOUND when the file is missing.
    pub async fn read(&self, sha256: &str) -> CoreResult<Vec<u8>> {
        let path = self.path(sha256)?;
        match tokio::fs::read(&path).await {
            Ok(b) => Ok(b),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(path = %path.display(), "a stored file is missing from the data directory");
                Err(CoreError::NotFound("file"))
            }
            Err(e) => Err(io("read", &path, e)),
        }
    }
}

fn tmp_suffix() -> String {
    use rand::Rng;
    format!("{}-{:016x}", std::process::id(), rand::thread_rng().gen::<u64>())
}

fn io(what: &str, path: &Path, e: std::io::Error) -> CoreError {
    CoreError::internal(format!("cannot {what} {}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_come_from_the_bytes() {
        assert_eq!(sniff(b"%PDF-1.7\n..."), Some(Kind::Pdf));
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"), Some(Kind::Png));
        assert_eq!(sniff(b"\xff\xd8\xff\xe0\0\x10JFIF"), Some(Kind::Jpeg));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 \x18\0\0\0"), Some(Kind::Webp));
        assert_eq!(sniff(b"MZ\x90\0\x03\0\0\0"), None, "a Windows executable");
        assert_eq!(sniff(b"RIFF\x24\0\0\0WAVEfmt \x10\0\0\0"), None, "RIFF but not WebP");
        assert_eq!(sniff(b" %PDF-1.7"), None);
        assert!(check("file", b"", 10).is_err());
        assert!(check("file", b"%PDF-1.7 and more", 10).is_err(), "over the limit");
        assert_eq!(check("file", b"%PDF-1.7", 10).unwrap(), Kind::Pdf);
    }

    #[test]
    fn same_bytes_are_one_file_named_by_their_hash() {
        let dir = std::env::temp_dir().join(format!("isp-blobs-{}", tmp_suffix()));
        let store = BlobStore::new(&dir);
        let a = store.put_blocking(b"%PDF-1.4 hello").unwrap();
        let b = store.put_blocking(b"%PDF-1.4 hello").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, sha256_hex(b"%PDF-1.4 hello"));
        let path = store.path(&a).unwrap();
        assert_eq!(path, dir.join("blobs").join(&a[..2]).join(&a[2..]));
        assert_eq!(std::fs::read(&path).unwrap(), b"%PDF-1.4 hello");
        let folder: Vec<_> = std::fs::read_dir(path.parent().unwrap()).unwrap().collect();
        assert_eq!(folder.len(), 1, "no temporary files left behind");
        assert!(store.path("../../etc/passwd").is_err());
        assert_eq!(file_name("C:\\scans\\id card.pdf", Kind::Png), "id card.png");
        assert_eq!(file_name("../\"evil\";.exe", Kind::Pdf), "evil.pdf");
        assert_eq!(file_name("", Kind::Jpeg), "file.jpg");
        assert_eq!(file_name(".hidden", Kind::Webp), "hidden.webp");
        // SHA-256("abc"), FIPS 180-2 appendix B.1.
        assert_eq!(sha256_hex(b"abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
