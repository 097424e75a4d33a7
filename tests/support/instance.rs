//! [`Instance`]: a [`Server`] whose command is one program with fixed
//! arguments (nats-server, mosquitto, memcached), so a test can start it
//! late, stop it and start it again.

use std::process::Command;

use super::TempDir;
use super::server::Server;

pub struct Instance {
    pub server: Server,
    program: &'static str,
    args: Vec<String>,
}

impl Instance {
    /// Prepare `program` with the arguments `args(port, dir)` gives; not
    /// started yet.
    pub fn new(program: &'static str, args: impl FnOnce(u16, &TempDir) -> Vec<String>) -> Instance {
        let server = Server::new(program);
        let args = args(server.port, &server.dir);
        Instance {
            server,
            program,
            args,
        }
    }

    /// Prepare, start, and wait until it listens.
    pub fn start(
        program: &'static str,
        args: impl FnOnce(u16, &TempDir) -> Vec<String>,
    ) -> Instance {
        Instance::new(program, args).up()
    }

    /// Start it and wait until it listens.
    pub fn up(mut self) -> Instance {
        self.spawn();
        self.wait_listening();
        self
    }

    pub fn addr(&self) -> String {
        self.server.addr()
    }

    pub fn port(&self) -> u16 {
        self.server.port
    }

    pub fn spawn(&mut self) {
        let mut cmd = Command::new(self.program);
        cmd.args(&self.args);
        self.server.spawn(cmd);
    }

    pub fn started(&self) -> bool {
        self.server.pid().is_some()
    }

    /// Start it unless it was started already (a test that starts the
    /// server late, once, between tries).
    pub fn spawn_once(&mut self) {
        if !self.started() {
            self.spawn();
        }
    }

    pub fn wait_listening(&mut self) {
        self.server.wait_listening();
    }

    pub fn kill(&mut self) {
        self.server.stop(libc::SIGKILL);
    }
}
