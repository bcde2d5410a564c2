//! A TCP proxy on 127.0.0.1 between the broker and its PostgreSQL server, which a test can
//! partition (forwarding stops both ways; sockets stay open and the bytes in flight are held,
//! as when a network drops packets without a reset), make refuse (every connection closed, the
//! port refusing new ones) and heal (the held bytes go on, new connections are accepted).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Flowing,
    Partitioned,
    Refusing,
}

pub struct Proxy {
    /// The proxy's address: connect here instead of to the server.
    pub addr: SocketAddr,
    mode: watch::Sender<Mode>,
    accept: tokio::task::JoinHandle<()>,
    conns: Arc<Mutex<JoinSet<()>>>,
}

impl Proxy {
    /// A proxy in front of the server of the `postgres://` `url`; returns it and the url that
    /// reaches the same database through it.
    pub async fn in_front_of(url: &str) -> (Proxy, String) {
        let (scheme_user, rest) = url.split_once('@').expect("a postgres url with a user@");
        let (host_port, database) = rest.split_once('/').expect("a database name");
        let target = tokio::net::lookup_host(if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        })
        .await
        .expect("resolving the database server")
        .next()
        .expect("an address of the database server");
        let proxy = Proxy::start(target).await;
        let through = format!("{scheme_user}@{}/{database}", proxy.addr);
        (proxy, through)
    }

    async fn start(target: SocketAddr) -> Proxy {
        let listener = listen(SocketAddr::from(([127, 0, 0, 1], 0)));
        let addr = listener.local_addr().expect("the proxy's address");
        let (mode, watching) = watch::channel(Mode::Flowing);
        let conns = Arc::new(Mutex::new(JoinSet::new()));
        let accept = tokio::spawn(accept_loop(listener, addr, target, watching, conns.clone()));
        Proxy {
            addr,
            mode,
            accept,
            conns,
        }
    }

    /// Stops forwarding both ways; connections stay open, their bytes held.
    pub fn partition(&self) {
        self.mode.send_replace(Mode::Partitioned);
    }

    /// Closes every connection and refuses new ones (the port is closed).
    pub fn refuse(&self) {
        self.mode.send_replace(Mode::Refusing);
    }

    /// Forwards again (the held bytes first) and accepts new connections.
    pub fn heal(&self) {
        self.mode.send_replace(Mode::Flowing);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        self.conns
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .abort_all();
    }
}

fn listen(addr: SocketAddr) -> TcpListener {
    let socket = TcpSocket::new_v4().expect("a socket");
    socket.set_reuseaddr(true).expect("SO_REUSEADDR");
    socket.bind(addr).expect("binding the proxy");
    socket.listen(128).expect("listening")
}

async fn accept_loop(
    listener: TcpListener,
    addr: SocketAddr,
    target: SocketAddr,
    mut mode: watch::Receiver<Mode>,
    conns: Arc<Mutex<JoinSet<()>>>,
) {
    let mut listener = Some(listener);
    loop {
        let Some(open) = &listener else {
            // refusing: the port is closed until the mode changes
            let _ = mode.wait_for(|m| *m != Mode::Refusing).await;
            listener = Some(listen(addr));
            continue;
        };
        tokio::select! {
            accepted = open.accept() => {
                let Ok((client, _)) = accepted else { continue };
                let watching = mode.clone();
                conns
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .spawn(forward(client, target, watching));
            }
            changed = mode.changed() => {
                if changed.is_err() {
                    return;
                }
                if *mode.borrow_and_update() == Mode::Refusing {
                    listener = None;
                    conns.lock().unwrap_or_else(|e| e.into_inner()).abort_all();
                }
            }
        }
    }
}

/// Waits until bytes may flow.
async fn flowing(mode: &mut watch::Receiver<Mode>) {
    let _ = mode.wait_for(|m| *m == Mode::Flowing).await;
}

async fn forward(client: TcpStream, target: SocketAddr, mut mode: watch::Receiver<Mode>) {
    flowing(&mut mode).await;
    let Ok(server) = TcpStream::connect(target).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    let up = pipe(client_read, server_write, mode.clone());
    let down = pipe(server_read, client_write, mode);
    let _ = tokio::join!(up, down);
}

/// Copies `from` to `to` while the proxy flows; bytes read during a partition are held until
/// it heals.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    mut mode: watch::Receiver<Mode>,
) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        flowing(&mut mode).await;
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => 0,
            Ok(n) => n,
        };
        flowing(&mut mode).await;
        if n == 0 {
            let _ = to.shutdown().await;
            return;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}
