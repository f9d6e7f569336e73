//! pm2's built-in static file server, as a service runs it (`tsm-native serve-files`): files
//! of `PM2_SERVE_PATH` on `PM2_SERVE_PORT` (or `PORT`), `PM2_SERVE_SPA` (unknown paths get the
//! home page), `PM2_SERVE_HOMEPAGE` (default `/index.html`), and basic auth with
//! `PM2_SERVE_BASIC_AUTH=true`, `PM2_SERVE_BASIC_AUTH_USERNAME`, `PM2_SERVE_BASIC_AUTH_PASSWORD`.
//! One connection at a time, `GET` and `HEAD`, no path above the folder.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

/// What the server serves, from its environment.
pub struct Site {
    pub root: PathBuf,
    pub port: u16,
    pub spa: bool,
    pub homepage: String,
    /// `Basic …`, the Authorization header a request must carry.
    pub auth: Option<String>,
}

impl Site {
    pub fn from_env() -> Result<Site, String> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let port = var("PM2_SERVE_PORT")
            .or_else(|| var("PORT"))
            .unwrap_or_else(|| "8080".into());
        let port = crate::model::port::parse_port(&port).ok_or(format!("invalid port '{port}'"))?;
        let auth = match var("PM2_SERVE_BASIC_AUTH").as_deref() {
            Some("true") => {
                let user = var("PM2_SERVE_BASIC_AUTH_USERNAME").unwrap_or_default();
                let pass = var("PM2_SERVE_BASIC_AUTH_PASSWORD").unwrap_or_default();
                Some(format!(
                    "Basic {}",
                    base64(format!("{user}:{pass}").as_bytes())
                ))
            }
            _ => None,
        };
        Ok(Site {
            root: var("PM2_SERVE_PATH").map_or_else(|| PathBuf::from("."), PathBuf::from),
            port,
            spa: var("PM2_SERVE_SPA").as_deref() == Some("true"),
            homepage: var("PM2_SERVE_HOMEPAGE").unwrap_or_else(|| "/index.html".into()),
            auth,
        })
    }

    /// Serves until the process is ended.
    pub fn serve(&self) -> std::io::Result<()> {
        let listener = TcpListener::bind(("0.0.0.0", self.port))?;
        println!("serving {} on port {}", self.root.display(), self.port);
        for stream in listener.incoming().flatten() {
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = self.answer(stream);
        }
        Ok(())
    }

    fn answer(&self, mut stream: TcpStream) -> std::io::Result<()> {
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut first = String::new();
        reader.read_line(&mut first)?;
        let mut authorization = None;
        for _ in 0..100 {
            let mut line = String::new();
            if reader.read_line(&mut line)? == 0 || line.trim().is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case("authorization") {
                    authorization = Some(v.trim().to_string());
                }
            }
        }
        let mut words = first.split_whitespace();
        let (method, target) = (words.next().unwrap_or(""), words.next().unwrap_or("/"));
        if self.auth.is_some() && authorization != self.auth {
            let head = "WWW-Authenticate: Basic realm=\"tsm\"\r\n";
            return reply(
                &mut stream,
                "401 Unauthorized",
                head,
                b"unauthorized\n",
                true,
            );
        }
        if method != "GET" && method != "HEAD" {
            return reply(&mut stream, "405 Method Not Allowed", "", b"", true);
        }
        let body_too = method == "GET";
        match self.file_for(target) {
            Some(path) => match std::fs::read(&path) {
                Ok(bytes) => {
                    let head = format!("Content-Type: {}\r\n", content_type(&path));
                    reply(&mut stream, "200 OK", &head, &bytes, body_too)
                }
                Err(_) => reply(&mut stream, "403 Forbidden", "", b"forbidden\n", body_too),
            },
            None => reply(&mut stream, "404 Not Found", "", b"not found\n", body_too),
        }
    }

    /// The file a request target names: inside the root, a folder's `index.html`; with SPA an
    /// unknown path is the home page.
    fn file_for(&self, target: &str) -> Option<PathBuf> {
        let path = percent_decode(target.split(['?', '#']).next().unwrap_or("/"));
        let inside = |p: &str| -> Option<PathBuf> {
            let rel = Path::new(p.trim_start_matches('/'));
            if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
                return None;
            }
            let full = self.root.join(rel);
            let full = if full.is_dir() {
                full.join("index.html")
            } else {
                full
            };
            full.is_file().then_some(full)
        };
        inside(&path).or_else(|| {
            if self.spa {
                inside(&self.homepage)
            } else {
                None
            }
        })
    }
}

fn reply(
    stream: &mut TcpStream,
    status: &str,
    head: &str,
    body: &[u8],
    body_too: bool,
) -> std::io::Result<()> {
    write!(
        stream,
        "HTTP/1.1 {status}\r\n{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )?;
    if body_too {
        stream.write_all(body)?;
    }
    stream.flush()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "txt" => "text/plain; charset=utf-8",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "ico" => "image/x-icon",
        "wasm" => "application/wasm",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).and_then(|b| hex(*b)),
            bytes.get(i + 2).and_then(|b| hex(*b)),
        ) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            match i <= chunk.len() {
                true => out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char),
                false => out.push('='),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_percent_decoding() {
        assert_eq!(base64(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(base64(b"ab"), "YWI=");
        assert_eq!(base64(b"a"), "YQ==");
        assert_eq!(percent_decode("/a%20b/%2e%2e"), "/a b/..");
    }

    #[test]
    fn no_path_leaves_the_folder() {
        let tmp = tempfile::tempdir().unwrap();
        std::fs::write(tmp.path().join("index.html"), "home").unwrap();
        let site = Site {
            root: tmp.path().to_path_buf(),
            port: 1,
            spa: false,
            homepage: "/index.html".into(),
            auth: None,
        };
        assert!(site.file_for("/").is_some());
        assert!(site.file_for("/../etc/passwd").is_none());
        assert!(site.file_for("/%2e%2e/etc/passwd").is_none());
        assert!(site.file_for("/nope").is_none());
        let spa = Site { spa: true, ..site };
        assert_eq!(
            spa.file_for("/deep/route"),
            Some(tmp.path().join("index.html"))
        );
    }
}
