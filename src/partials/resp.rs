//! A minimal Redis client: RESP2 over one TCP connection, for the few commands the shared
//! partial cache sends (MGET, SET, SCAN, DEL, PUBLISH, SUBSCRIBE, and AUTH/SELECT from the
//! URL). Hand-written: redis-rs would bring the `url`/ICU stack into the build for these six
//! commands, and the protocol part we need is this file.

use std::time::Duration;

use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpStream,
};

/// Largest bulk string or array we accept (a state is far smaller).
const MAX_LEN: usize = 512 << 20;

/// Where Redis is: `redis://[[user]:password@]host[:port][/db]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct RedisUrl {
    pub(crate) address: String,
    pub(crate) user: Option<String>,
    pub(crate) password: Option<String>,
    pub(crate) db: u32,
}

impl RedisUrl {
    pub(crate) fn parse(url: &str) -> Result<Self, String> {
        let rest = url
            .strip_prefix("redis://")
            .ok_or_else(|| format!("`{url}` must start with redis://"))?;
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (credentials, host) = match authority.rsplit_once('@') {
            Some((c, h)) => (Some(c), h),
            None => (None, authority),
        };
        if host.is_empty() {
            return Err(format!("`{url}` names no host"));
        }
        let address = if host.contains(':') && !host.ends_with(']') {
            host.to_owned()
        } else {
            format!("{host}:6379")
        };
        let (user, password) = match credentials {
            None => (None, None),
            Some(c) => match c.split_once(':') {
                Some((u, p)) => ((!u.is_empty()).then(|| u.to_owned()), Some(p.to_owned())),
                None => (Some(c.to_owned()), None),
            },
        };
        let db = if path.is_empty() {
            0
        } else {
            path.parse()
                .map_err(|_| format!("`{url}`: the database after / must be a number"))?
        };
        Ok(Self {
            address,
            user,
            password,
            db,
        })
    }
}

/// One reply.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reply {
    Nil,
    Status(String),
    Integer(i64),
    Bulk(Vec<u8>),
    Array(Vec<Reply>),
    Error(String),
}

impl Reply {
    /// The reply, or the Redis error as an I/O error.
    fn checked(self) -> std::io::Result<Self> {
        match self {
            Reply::Error(message) => Err(std::io::Error::other(format!("Redis: {message}"))),
            other => Ok(other),
        }
    }
}

/// A command as RESP: an array of bulk strings.
pub(crate) fn command(args: &[&[u8]]) -> Vec<u8> {
    let mut out = format!("*{}\r\n", args.len()).into_bytes();
    for arg in args {
        out.extend_from_slice(format!("${}\r\n", arg.len()).as_bytes());
        out.extend_from_slice(arg);
        out.extend_from_slice(b"\r\n");
    }
    out
}

/// The first complete reply in `buf` and the bytes it took; `Ok(None)` when more bytes are
/// needed.
pub(crate) fn parse(buf: &[u8]) -> Result<Option<(Reply, usize)>, String> {
    let Some(end) = buf.windows(2).position(|w| w == b"\r\n") else {
        return Ok(None);
    };
    let line = std::str::from_utf8(&buf[1..end]).map_err(|_| "reply line is not UTF-8")?;
    let after = end + 2;
    let number = || -> Result<i64, String> {
        line.parse()
            .map_err(|_| format!("bad number `{line}` in a reply"))
    };
    let reply = match buf.first() {
        Some(b'+') => (Reply::Status(line.to_owned()), after),
        Some(b'-') => (Reply::Error(line.to_owned()), after),
        Some(b':') => (Reply::Integer(number()?), after),
        Some(b'$') => {
            let Ok(len) = usize::try_from(number()?) else {
                return Ok(Some((Reply::Nil, after)));
            };
            if len > MAX_LEN {
                return Err(format!("a {len}-byte reply is too large"));
            }
            if buf.len() < after + len + 2 {
                return Ok(None);
            }
            (
                Reply::Bulk(buf[after..after + len].to_vec()),
                after + len + 2,
            )
        }
        Some(b'*') => {
            let Ok(count) = usize::try_from(number()?) else {
                return Ok(Some((Reply::Nil, after)));
            };
            if count > MAX_LEN / 8 {
                return Err(format!("a {count}-element reply is too large"));
            }
            let mut items = Vec::with_capacity(count.min(1024));
            let mut at = after;
            for _ in 0..count {
                let Some((item, used)) = parse(&buf[at..])? else {
                    return Ok(None);
                };
                items.push(item);
                at += used;
            }
            (Reply::Array(items), at)
        }
        _ => return Err("not a RESP reply".to_owned()),
    };
    Ok(Some(reply))
}

/// One connection to Redis.
#[derive(Debug)]
pub(crate) struct Connection {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Connection {
    /// Connects (within `timeout`), authenticates and selects the URL's database.
    pub(crate) async fn open(url: &RedisUrl, timeout: Duration) -> std::io::Result<Self> {
        let stream = tokio::time::timeout(timeout, TcpStream::connect(&url.address))
            .await
            .map_err(|_| {
                std::io::Error::other(format!("connecting to {}: timed out", url.address))
            })??;
        stream.set_nodelay(true)?;
        let mut connection = Self {
            stream,
            buf: Vec::new(),
        };
        if let Some(password) = &url.password {
            let mut args: Vec<&[u8]> = vec![b"AUTH"];
            if let Some(user) = &url.user {
                args.push(user.as_bytes());
            }
            args.push(password.as_bytes());
            connection.call(&args).await?;
        }
        if url.db != 0 {
            connection
                .call(&[b"SELECT", url.db.to_string().as_bytes()])
                .await?;
        }
        Ok(connection)
    }

    /// Sends one command and reads its reply; a Redis error is an error.
    pub(crate) async fn call(&mut self, args: &[&[u8]]) -> std::io::Result<Reply> {
        self.stream.write_all(&command(args)).await?;
        self.read().await?.checked()
    }

    /// Sends `commands` at once and reads their replies, in order.
    pub(crate) async fn pipeline(&mut self, commands: &[Vec<u8>]) -> std::io::Result<Vec<Reply>> {
        self.stream.write_all(&commands.concat()).await?;
        let mut replies = Vec::with_capacity(commands.len());
        for _ in commands {
            replies.push(self.read().await?.checked()?);
        }
        Ok(replies)
    }

    /// Reads the next reply (or pushed pub/sub message).
    pub(crate) async fn read(&mut self) -> std::io::Result<Reply> {
        loop {
            if let Some((reply, used)) = parse(&self.buf).map_err(std::io::Error::other)? {
                self.buf.drain(..used);
                return Ok(reply);
            }
            let mut chunk = [0u8; 16 * 1024];
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }
}

#[cfg(test)]
mod tests;
