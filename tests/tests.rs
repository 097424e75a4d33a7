//! preflight's integration tests: one binary (link once), one module per
//! behaviour. Tests drive the built binary as a user would, against real
//! servers and, for PID 1, under `unshare --pid --fork --mount-proc`.
//!
//! Start with `support`: one driver (`support::run`), one server fixture
//! (`support::server`), one temp dir (`support::TempDir`), and the rule for
//! tests that need something from the machine (`require!`).

/// What every test shares: driver, fixtures, peers, the skip rule.
mod support;

/// Bad input: exit 2 with one line naming the value.
mod cli_errors;

/// PostgreSQL probe and --lock: real servers in every state, fake peers.
mod postgres;

/// Environment, secrets and docker-compose-wait variables; bad values stop the start.
mod config_env;
/// Hooks: order, failure, signals and timeout.
mod hooks;
/// `--lock`: replicas run their hooks one at a time; the socket never leaks.
mod lock;
/// `--user`: hooks and command run as another user, with its groups and HOME.
mod user;

/// Names resolve in a scratch-like root: /etc/hosts, Kubernetes search domains.
mod names_in_scratch;
/// `check`: one try each, 0 or 1 with the reason.
mod wait_check;
/// Name lookups that never answer do not pile up threads.
mod wait_lookups;
/// Waiting ends when every target is ready, and the command starts after.
mod wait_ready;
/// TERM/INT/HUP while waiting: 128+N at once, nothing started.
mod wait_signals;
/// The deadline: exit 124 with reasons, continue, per-target, in-flight tries.
mod wait_timeout;

/// The MySQL/MariaDB probe and `--lock`: real servers, fake peers.
mod mysql;

/// The Redis probe: PING/AUTH/SELECT, -LOADING behind -NOAUTH, fake peers.
mod redis;

/// The AMQP probe: Connection.Start, the optional login, fake peers.
mod amqp;

/// The NATS probe: INFO, CONNECT with user/password or token, PING/PONG.
mod nats;

/// The MQTT probe: CONNECT/CONNACK codes, password file, mqtts.
mod mqtt;

/// The memcached probe: `version`, own instances, fake peers.
mod memcached;

/// The Kafka probe against a fake broker: ApiVersions, Metadata's controller.
mod kafka;

/// The MongoDB probe against a fake mongod: hello, isMaster, #primary=true.
mod mongodb;

/// The gRPC probe: a real grpcio health server NOT_SERVING -> SERVING, TLS, fakes.
mod grpc;

/// The dns probe: the system resolver, a fake DNS server (SRV), bad values.
mod dns;

/// `#down`: ready when the target is not.
mod down;

/// HTTP expectations: status lists, body, regex, JSON at a path, headers.
mod http_expect;

/// Every protocol and the lock against hostile peers: deadline and memory ceiling.
mod hostile_peers;
/// http(s) probe against fake servers: statuses, misbehaving peers, TLS certificates.
mod http;
/// tcp, unix and file probes against fake peers: ready, refused, missing.
mod probes_simple;
/// The TLS client every probe shares: verify modes, CA files, client certificates.
mod tls;

/// The child starts clean: mask, dispositions, descriptors, group, terminal.
mod init_child;
/// --exec and --pdeathsig.
mod init_exec;
/// The command's exit status, 128+N for a signal, 127/126 when it cannot start.
mod init_exit;

/// Log lines: stderr only, text or JSON, never a secret.
mod logging;
/// Secrets: masked in every line preflight writes, scrubbed from its argv.
mod secrets;
/// No password in any output for generated URLs (a property test).
mod secrets_property;

/// A hook under the init core: leftovers live on, timeout, TERM reported.
mod init_hooks;
/// Zombies are reaped, orphans re-parented to preflight (subreaper).
mod init_reap;
/// After the command: TERM, --grace, KILL for what is left; --kill-after.
mod init_shutdown;
/// Every signal reaches the child as sent: the child alone, --signal-group, --rewrite.
mod init_signals;
/// The README's "Stopping gracefully" recipes against real gunicorn, celery,
/// uwsgi, nginx and a `sh -c` wrapper.
mod stop_gracefully;

/// Templates: `${VAR}` files rendered from the environment, strict and atomic.
mod templates;
/// The start-up timeline and `wait --json` / `check --json`.
mod timeline;

/// Real containers on a real Docker engine: docker stop, exit codes,
/// orphans, HEALTHCHECK, Ctrl-C, the compose and swarm examples.
mod container;

/// Several programs: --also, --procfile, restarts, the stop, --log-prefix, --tail.
mod several;
