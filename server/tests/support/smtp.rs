//! A tiny SMTP server for tests (RFC 5321's EHLO, MAIL, RCPT, DATA, RSET, NOOP, QUIT; no TLS,
//! no AUTH): it keeps every accepted message, refuses recipients whose address starts with
//! `nobody` (550), and answers the next `busy` DATA commands with 451 (try again later).

use std::sync::{Arc, Mutex};

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// A message as the relay accepted it.
#[derive(Clone, Debug)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// Headers and body as sent (dot-unstuffed).
    pub data: String,
}

impl Mail {
    /// The first header called `name` (case-insensitive), unfolded.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next()?;
        let mut found: Option<String> = None;
        for line in head.split("\r\n") {
            if line.starts_with([' ', '\t']) {
                if let Some(v) = found.as_mut() {
                    v.push_str(line.trim_start());
                }
                continue;
            }
            if found.is_some() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                if k.eq_ignore_ascii_case(name) {
                    found = Some(v.trim().to_owned());
                }
            }
        }
        found
    }

    pub fn body(&self) -> String {
        self.data
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default()
    }
}

#[derive(Clone, Default)]
pub struct Relay {
    pub mails: Arc<Mutex<Vec<Mail>>>,
    /// DATA commands still to answer 451.
    pub busy: Arc<Mutex<u32>>,
    /// Every DATA command seen (accepted or not).
    pub tries: Arc<Mutex<u32>>,
}

impl Relay {
    /// Starts the relay on loopback; answers it and its `smtp://` URL.
    pub async fn start() -> (Relay, String) {
        let relay = Relay::default();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("smtp://{}", listener.local_addr().unwrap());
        let r = relay.clone();
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let r = r.clone();
                tokio::spawn(async move {
                    let _ = r.session(socket).await;
                });
            }
        });
        (relay, url)
    }

    pub fn mails(&self) -> Vec<Mail> {
        self.mails.lock().unwrap().clone()
    }

    async fn session(&self, socket: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = socket.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 relay.test ESMTP\r\n").await?;
        let (mut from, mut to) = (String::new(), Vec::new());
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_owned();
            let verb = command
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_ascii_uppercase();
            let reply: String = match verb.as_str() {
                "EHLO" | "HELO" => "250-relay.test\r\n250 8BITMIME".into(),
                "MAIL" => {
                    from = address(&command);
                    to.clear();
                    "250 2.1.0 OK".into()
                }
                "RCPT" => {
                    let a = address(&command);
                    if a.starts_with("nobody") {
                        "550 5.1.1 no such user here".into()
                    } else {
                        to.push(a);
                        "250 2.1.5 OK".into()
                    }
                }
                "DATA" => {
                    write
                        .write_all(b"354 end data with <CR><LF>.<CR><LF>\r\n")
                        .await?;
                    let mut data = String::new();
                    loop {
                        line.clear();
                        if lines.read_line(&mut line).await? == 0 {
                            return Ok(());
                        }
                        if line == ".\r\n" {
                            break;
                        }
                        data.push_str(line.strip_prefix('.').unwrap_or(&line));
                    }
                    *self.tries.lock().unwrap() += 1;
                    let busy = {
                        let mut b = self.busy.lock().unwrap();
                        let was = *b;
                        *b = b.saturating_sub(1);
                        was > 0
                    };
                    if busy {
                        "451 4.3.0 try again later".into()
                    } else {
                        self.mails.lock().unwrap().push(Mail {
                            from: from.clone(),
                            to: to.clone(),
                            data,
                        });
                        "250 2.0.0 queued".into()
                    }
                }
                "RSET" | "NOOP" => "250 2.0.0 OK".into(),
                "QUIT" => {
                    write.write_all(b"221 2.0.0 bye\r\n").await?;
                    return Ok(());
                }
                _ => "502 5.5.2 not implemented".into(),
            };
            write.write_all(format!("{reply}\r\n").as_bytes()).await?;
        }
    }
}

/// `MAIL FROM:<a@b> SIZE=…` → `a@b`.
fn address(command: &str) -> String {
    command
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(a, _)| a.to_owned())
        .unwrap_or_default()
}
