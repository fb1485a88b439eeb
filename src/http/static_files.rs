//! Static files for `server:static(prefix, directory, opts)`: GET and HEAD requests under a
//! mount's prefix are answered from the directory without entering Lua — `Content-Type` by
//! extension, `ETag`/`Last-Modified` with 304 answers, single `Range` requests (206/416),
//! `Cache-Control` when asked, index files and the slash redirect for directories. No request
//! leaves the directory: `..` and NUL (raw or percent-encoded) are refused with 400, and the
//! file is opened with `openat2(RESOLVE_BENEATH)` relative to the directory, so a symlink that
//! points out of it answers 404. A file that does not exist falls through to the handler
//! (routes may share a prefix with files).

use std::ffi::CString;
use std::fs::File;
use std::io::{Seek, SeekFrom};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::request::Head;
use super::response::Response;
use crate::http::http_date::http_date;

/// One mounted directory.
struct Mount {
    /// The URL prefix, without a trailing slash (`""` for the root).
    prefix: String,
    /// The directory, kept open: files are opened relative to it.
    root: File,
    /// Its path, for the fallback where `openat2` is missing.
    root_path: PathBuf,
    /// The file served for a directory (`index.html`), if any.
    index: Option<String>,
    /// `Cache-Control: max-age` in seconds, if set.
    cache: Option<u64>,
}

/// The static-file mounts of one server, longest prefix first.
#[derive(Default, Clone)]
pub struct StaticFiles {
    mounts: Vec<Arc<Mount>>,
}

/// What a mount answers.
pub enum Served {
    /// A complete answer with no file body (304, 301, 400, 403, 404, 416).
    Reply(Response<'static>),
    /// `response`'s head, then `length` bytes of `file` from its current position.
    File {
        response: Response<'static>,
        file: File,
        length: u64,
    },
}

/// Options of a mount.
#[derive(Debug, Clone, Default)]
pub struct MountOptions {
    pub index: Option<String>,
    pub cache: Option<u64>,
}

/// Why a directory cannot be mounted.
#[derive(Debug, thiserror::Error)]
#[error("static: cannot serve {path}: {source}")]
pub struct MountError {
    path: String,
    source: std::io::Error,
}

impl StaticFiles {
    /// Adds (or replaces) the mount of `prefix`.
    pub fn mount(
        &mut self,
        prefix: &str,
        directory: &Path,
        options: MountOptions,
    ) -> Result<(), MountError> {
        let failed = |source| MountError {
            path: directory.display().to_string(),
            source,
        };
        let root_path = std::fs::canonicalize(directory).map_err(failed)?;
        let root = File::open(&root_path).map_err(failed)?;
        if !root.metadata().map_err(failed)?.is_dir() {
            return Err(failed(std::io::Error::other("not a directory")));
        }
        let prefix = prefix.trim_end_matches('/').to_owned();
        self.mounts.retain(|mount| mount.prefix != prefix);
        self.mounts.push(Arc::new(Mount {
            prefix,
            root,
            root_path,
            index: options.index,
            cache: options.cache,
        }));
        self.mounts
            .sort_by_key(|mount| std::cmp::Reverse(mount.prefix.len()));
        Ok(())
    }

    /// The answer for `head` if a mount serves it; `None` to let the handler answer (no mount
    /// matches, the method is not GET or HEAD, or the file does not exist).
    pub fn serve(&self, head: &Head) -> Option<Served> {
        if !matches!(head.method(), "GET" | "HEAD") {
            return None;
        }
        let path = head.path();
        let mount = self.mounts.iter().find(|mount| {
            path.strip_prefix(mount.prefix.as_str())
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })?;
        let rest = &path[mount.prefix.len()..];
        let Some(relative) = relative_path(rest) else {
            return Some(Served::Reply(Response::text(400, "bad path\n")));
        };
        let mut file = match mount.open(&relative) {
            Ok(file) => file,
            Err(error) => return refusal(&error),
        };
        let mut meta = file.metadata().ok()?;
        if meta.is_dir() {
            if !rest.ends_with('/') {
                let mut response = Response::text(301, "moved\n");
                response
                    .headers
                    .push(("Location".into(), format!("{path}/")));
                return Some(Served::Reply(response));
            }
            let index = mount.index.as_deref()?;
            let relative = if relative.is_empty() {
                index.to_owned()
            } else {
                format!("{relative}/{index}")
            };
            file = match mount.open(&relative) {
                Ok(file) => file,
                Err(error) => return refusal(&error),
            };
            meta = file.metadata().ok()?;
            if !meta.is_file() {
                return None;
            }
            return Some(answer(head, mount, file, &meta, &relative));
        }
        if !meta.is_file() {
            return Some(Served::Reply(Response::text(404, "not found\n")));
        }
        Some(answer(head, mount, file, &meta, &relative))
    }
}

/// The kernel's `struct open_how` for `openat2` (libc's is not constructible).
#[repr(C)]
struct OpenHow {
    flags: u64,
    mode: u64,
    resolve: u64,
}

impl Mount {
    /// Opens `relative` (no leading slash; empty for the directory itself) inside the mount,
    /// refusing any path that resolves outside it.
    fn open(&self, relative: &str) -> std::io::Result<File> {
        let name = if relative.is_empty() { "." } else { relative };
        let name = CString::new(name).map_err(std::io::Error::other)?;
        let how = OpenHow {
            flags: (libc::O_RDONLY | libc::O_CLOEXEC) as u64,
            mode: 0,
            resolve: libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS,
        };
        // SAFETY: `name` is a NUL-terminated string and `how` a valid `open_how` that both
        // outlive the call; the returned descriptor is owned by the new `File` alone.
        let fd = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                self.root.as_raw_fd(),
                name.as_ptr(),
                &how as *const OpenHow,
                std::mem::size_of::<OpenHow>(),
            )
        };
        if fd >= 0 {
            // SAFETY: a fresh descriptor from openat2, owned by nobody else.
            return Ok(unsafe { File::from_raw_fd(fd as i32) });
        }
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() != Some(libc::ENOSYS) {
            return Err(error);
        }
        // Kernels before 5.6: resolve the whole path and check it stays inside.
        let resolved = std::fs::canonicalize(self.root_path.join(relative))?;
        if !resolved.starts_with(&self.root_path) {
            return Err(std::io::Error::from_raw_os_error(libc::EXDEV));
        }
        File::open(resolved)
    }
}

/// The answer when a file cannot be opened: `None` (fall through) if it does not exist.
fn refusal(error: &std::io::Error) -> Option<Served> {
    match error.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::ENOTDIR) => None,
        Some(libc::EACCES) | Some(libc::EPERM) => {
            Some(Served::Reply(Response::text(403, "forbidden\n")))
        }
        // EXDEV/ELOOP: the path resolves outside the directory (a symlink out, say).
        _ => Some(Served::Reply(Response::text(404, "not found\n"))),
    }
}

/// The decoded path below a mount (`/a/b%20c` → `a/b c`), or `None` if it must be refused: a
/// `..` segment, a NUL byte, an encoded `/`, or bytes that are not UTF-8.
fn relative_path(rest: &str) -> Option<String> {
    let mut segments = Vec::new();
    for raw in rest.split('/') {
        let segment = percent_decode(raw)?;
        match segment.as_str() {
            "" | "." => {}
            ".." => return None,
            _ if segment.contains(['/', '\0']) => return None,
            _ => segments.push(segment),
        }
    }
    Some(segments.join("/"))
}

fn percent_decode(text: &str) -> Option<String> {
    if !text.contains('%') {
        return Some(text.to_owned());
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            out.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The answer for an opened regular file: 304 when the client's copy is current, 206 or 416
/// for a range, else 200 with the whole file.
fn answer(
    head: &Head,
    mount: &Mount,
    mut file: File,
    meta: &std::fs::Metadata,
    name: &str,
) -> Served {
    let size = meta.len();
    let etag = format!("\"{:x}-{:x}\"", meta.mtime(), size);
    let modified = http_date(meta.mtime());
    let mut headers: Vec<(String, String)> = Vec::with_capacity(6);
    headers.push(("ETag".into(), etag.clone()));
    headers.push(("Last-Modified".into(), modified.clone()));
    if let Some(seconds) = mount.cache {
        headers.push(("Cache-Control".into(), format!("max-age={seconds}")));
    }
    let fresh = match head.header("if-none-match") {
        Some(tags) => tags_match(tags, &etag),
        None => head.header("if-modified-since") == Some(modified.as_str()),
    };
    if fresh {
        return Served::Reply(Response {
            status: 304,
            headers,
            body: b"",
        });
    }
    headers.push(("Content-Type".into(), content_type(name).into()));
    headers.push(("Accept-Ranges".into(), "bytes".into()));
    let range = head.header("range").filter(|_| {
        head.header("if-range")
            .is_none_or(|validator| validator == etag || validator == modified)
    });
    let (status, start, length) = match range.map(|value| parse_range(value, size)) {
        None | Some(Range::Whole) => (200, 0, size),
        Some(Range::Part { start, end }) => {
            headers.push((
                "Content-Range".into(),
                format!("bytes {start}-{end}/{size}"),
            ));
            (206, start, end - start + 1)
        }
        Some(Range::Unsatisfiable) => {
            headers.retain(|(name, _)| name != "Content-Type");
            headers.push(("Content-Range".into(), format!("bytes */{size}")));
            return Served::Reply(Response {
                status: 416,
                headers,
                body: b"",
            });
        }
    };
    if start > 0 && file.seek(SeekFrom::Start(start)).is_err() {
        return Served::Reply(Response::text(500, "cannot read file\n"));
    }
    Served::File {
        response: Response {
            status,
            headers,
            body: b"",
        },
        file,
        length,
    }
}

/// `If-None-Match`: `*` or a list of (possibly weak) tags, one of which is `etag`.
fn tags_match(tags: &str, etag: &str) -> bool {
    tags.split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// A `Range` header against a file of `size` bytes.
#[derive(Debug, PartialEq, Eq)]
enum Range {
    /// Not a single byte range we serve (several ranges, another unit, malformed): the whole
    /// file, as RFC 9110 allows.
    Whole,
    /// Bytes `start..=end`.
    Part { start: u64, end: u64 },
    /// No byte of the range exists (416).
    Unsatisfiable,
}

fn parse_range(value: &str, size: u64) -> Range {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Range::Whole;
    };
    if spec.contains(',') {
        return Range::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else {
        return Range::Whole;
    };
    let number = |text: &str| -> Option<u64> {
        let text = text.trim();
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        text.parse().ok()
    };
    match (first.trim().is_empty(), number(first), number(last)) {
        // `-n`: the last n bytes.
        (true, _, Some(suffix)) => {
            if suffix == 0 || size == 0 {
                return Range::Unsatisfiable;
            }
            Range::Part {
                start: size.saturating_sub(suffix),
                end: size - 1,
            }
        }
        (false, Some(start), end) if last.trim().is_empty() || end.is_some() => {
            if start >= size {
                return Range::Unsatisfiable;
            }
            let end = end.map_or(size - 1, |end| end.min(size - 1));
            if end < start {
                return Range::Whole;
            }
            Range::Part { start, end }
        }
        _ => Range::Whole,
    }
}

/// The media type for a file name, by extension.
pub fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map_or("", |(_, ext)| ext);
    match extension.to_ascii_lowercase().as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" | "log" | "lua" | "md" => "text/plain; charset=utf-8",
        "csv" => "text/csv; charset=utf-8",
        "xml" => "application/xml",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "avif" => "image/avif",
        "wasm" => "application/wasm",
        "pdf" => "application/pdf",
        "zip" => "application/zip",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        "mp3" => "audio/mpeg",
        "wav" => "audio/wav",
        "ogg" => "audio/ogg",
        "mp4" => "video/mp4",
        "webm" => "video/webm",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_are_read_as_rfc_9110_says() {
        assert_eq!(
            parse_range("bytes=0-9", 100),
            Range::Part { start: 0, end: 9 }
        );
        assert_eq!(
            parse_range("bytes=90-", 100),
            Range::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=-10", 100),
            Range::Part { start: 90, end: 99 }
        );
        assert_eq!(
            parse_range("bytes=50-500", 100),
            Range::Part { start: 50, end: 99 }
        );
        assert_eq!(parse_range("bytes=100-", 100), Range::Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Range::Whole);
        assert_eq!(parse_range("items=0-1", 100), Range::Whole);
        assert_eq!(parse_range("bytes=+1-2", 100), Range::Whole);
        assert_eq!(parse_range("bytes=5-2", 100), Range::Whole);
    }

    #[test]
    fn paths_that_climb_or_hide_bytes_are_refused() {
        assert_eq!(relative_path("/a/b%20c").as_deref(), Some("a/b c"));
        assert_eq!(relative_path("//a/./b/").as_deref(), Some("a/b"));
        assert_eq!(relative_path("/../etc/passwd"), None);
        assert_eq!(relative_path("/%2e%2e/etc/passwd"), None);
        assert_eq!(relative_path("/a%2f..%2fb"), None);
        assert_eq!(relative_path("/a%00b"), None);
        assert_eq!(relative_path("/a%zz"), None);
    }

    #[test]
    fn media_types_follow_the_extension() {
        assert_eq!(content_type("index.HTML"), "text/html; charset=utf-8");
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("blob"), "application/octet-stream");
    }
}
