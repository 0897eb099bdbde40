//! Client connections: accepting them (at most [`MAX_CLIENTS_PER_UID`] per uid), reading
//! each request against a total deadline, checking who may ask, giving requests on one
//! session their turn, and answering after what they wait for (their session's work, app
//! answers) is done with the lock released.
//! Not here: what a request does (rttng-session), the app event loop (`apps.rs`).

use super::*;

pub(super) fn accept_clients(
    l: UnixListener,
    state: Shared,
    daemon_uid: u32,
    group_gid: Option<u32>,
) {
    // Connections served now, per uid.
    let active: Arc<Mutex<HashMap<u32, usize>>> = Arc::default();
    for conn in l.incoming() {
        let Ok(conn) = conn else { continue };
        let Ok(cred) = sock::peer_cred(&conn) else {
            continue;
        };
        let refused = {
            let mut a = active.lock().unwrap_or_else(|p| p.into_inner());
            let others: usize = a.iter().filter(|(&u, _)| u != 0).map(|(_, n)| n).sum();
            let mine = a.get(&cred.uid).copied().unwrap_or(0);
            if mine >= MAX_CLIENTS_PER_UID {
                Some(format!(
                    "user {} has {MAX_CLIENTS_PER_UID} connections open already; try again",
                    cred.uid
                ))
            } else if cred.uid != 0 && others >= MAX_CLIENTS {
                Some("too many clients; try again".to_string())
            } else {
                *a.entry(cred.uid).or_default() += 1;
                None
            }
        };
        if let Some(msg) = refused {
            let _ = conn.set_write_timeout(Some(CLIENT_REQUEST_TIMEOUT));
            let _ = sock::send(
                &conn,
                Kind::Response,
                &Response::error(ErrorCode::Internal, msg),
                None,
            );
            continue;
        }
        let (st, act) = (state.clone(), active.clone());
        std::thread::spawn(move || {
            serve_client(conn, &st, daemon_uid, group_gid);
            let mut a = act.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(n) = a.get_mut(&cred.uid) {
                *n -= 1;
                if *n == 0 {
                    a.remove(&cred.uid);
                }
            }
        });
    }
}

/// Reads exactly `buf.len()` bytes before `deadline` (each read waits at most the time left).
fn read_by(conn: &UnixStream, buf: &mut [u8], deadline: Instant) -> Result<(), RecvError> {
    let mut got = 0;
    while got < buf.len() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(RecvError::Io(std::io::ErrorKind::TimedOut.into()));
        }
        conn.set_read_timeout(Some(left))?;
        let mut r = conn;
        match r.read(&mut buf[got..]) {
            Ok(0) if got == 0 => return Err(RecvError::Closed),
            Ok(0) => return Err(RecvError::Io(std::io::ErrorKind::UnexpectedEof.into())),
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(RecvError::Io(e)),
        }
    }
    Ok(())
}

/// One whole request, which must arrive before `deadline`.
fn recv_request(conn: &UnixStream, deadline: Instant) -> Result<Request, RecvError> {
    let mut head = [0u8; frame::HEADER_BYTES];
    read_by(conn, &mut head, deadline)?;
    let h = frame::decode_header(&head, Kind::Request)?;
    let mut payload = vec![0u8; h.payload_bytes as usize];
    read_by(conn, &mut payload, deadline).map_err(|e| match e {
        RecvError::Closed => RecvError::Io(std::io::ErrorKind::UnexpectedEof.into()),
        e => e,
    })?;
    Ok(wire::decode_all::<Request>(&payload).map_err(FrameError::Payload)?)
}

fn serve_client(conn: UnixStream, state: &Shared, daemon_uid: u32, group_gid: Option<u32>) {
    let _ = conn.set_write_timeout(Some(CLIENT_REQUEST_TIMEOUT));
    loop {
        let req = match recv_request(&conn, Instant::now() + CLIENT_REQUEST_TIMEOUT) {
            Ok(r) => r,
            Err(RecvError::Closed) => return,
            Err(RecvError::Frame(e)) => {
                // Answer once, then close: after a bad frame the stream is out of step.
                let _ = sock::send(
                    &conn,
                    Kind::Response,
                    &Response::error(ErrorCode::Protocol, e.to_string()),
                    None,
                );
                return;
            }
            Err(RecvError::Io(_)) => return,
        };
        // Credentials on every request (the peer could have passed the socket on).
        let cred = match sock::peer_cred(&conn) {
            Ok(c) => c,
            Err(_) => return,
        };
        let groups = if daemon_uid == 0 && cred.uid != 0 {
            sys::pid_groups(cred.pid)
        } else {
            Vec::new()
        };
        let allowed = crate::access::client_allowed(daemon_uid, cred.uid, group_gid, &groups);
        let resp = if !allowed {
            Response::error(
                ErrorCode::PermissionDenied,
                format!("user {} may not use this session daemon (owned by uid {daemon_uid}); the root daemon accepts members of its tracing group", cred.uid),
            )
        } else {
            handle_and_wait(state, req, cred)
        };
        if sock::send(&conn, Kind::Response, &resp, None).is_err() {
            return;
        }
    }
}

/// Applies a request under the lock, with waits (lock released, at most
/// [`CLIENT_APP_WAIT`] in all) for the apps to carry out their commands before and after,
/// so that e.g. events are enabled in running apps when `enable-event` returns. Requests
/// on one session run one after the other (its turn), their work included, which the
/// client waits for with the lock released.
fn handle_and_wait(state: &Shared, req: Request, cred: sock::PeerCred) -> Response {
    if let Request::ListAgentLoggers { domain } = req {
        // The agents answer through their own threads; no session state is involved.
        if !domain.is_agent() {
            return Response::error(ErrorCode::InvalidArgument, "not an agent domain");
        }
        return Response::AgentLoggers {
            list: crate::agent::list(domain),
        };
    }
    let uid = cred.uid;
    let t0 = Instant::now();
    let deadline = t0 + CLIENT_APP_WAIT;
    // First let registrations and changes in flight settle (e.g. `list -u` shows an app
    // once it has carried out its initial state), then apply the request, then let the
    // apps carry out what it sent them (answers can make the registry send more: an
    // installed channel's events are enabled when its install is answered).
    let mut g = wait_settled(state, lock(state), uid, t0, deadline);
    let sid = g.reg.session_of(&req, uid);
    if let Some(s) = sid {
        while g.io.turns.contains(&s) {
            g = state.1.wait(g).unwrap_or_else(|p| p.into_inner());
        }
        g.io.turns.insert(s);
    }
    let (g, resp) = handle_in_turn(state, g, req, cred, sid);
    let mut g = g;
    if let Some(s) = sid {
        g.io.turns.remove(&s);
    }
    reap(&mut g, state);
    crate::agent::set_wants(g.reg.agent_wants());
    drop(wait_settled(state, g, uid, t0, deadline));
    state.1.notify_all();
    resp
}

/// [`handle_and_wait`] once the request has its session's turn (`sid`).
fn handle_in_turn<'a>(
    state: &'a Shared,
    mut g: MutexGuard<'a, State>,
    req: Request,
    cred: sock::PeerCred,
    sid: Option<u64>,
) -> (MutexGuard<'a, State>, Response) {
    let uid = cred.uid;
    let destroy = matches!(
        req,
        Request::DestroySession { .. } | Request::DestroySessionNoWait { .. }
    );
    let State { reg, io } = &mut *g;
    // A snapshot's own directory is written with the client's credentials, as a
    // session's output is (declared before the request, which may write at once).
    if let (Some(dir), Some(s)) = (snapshot_dir(&req), sid) {
        if let Err(e) = declare_owner(io, s, &dir, cred) {
            let resp = Response::error(
                ErrorCode::SnapshotFailed,
                format!("Snapshot output {dir} cannot be given to user {uid}: {e}"),
            );
            return (g, resp);
        }
    }
    let mut out = reg.handle_deferring(req, uid, &now(), io);
    let checkpoints = reg.take_checkpoints();
    // A created session: its output's owner is declared first of its work.
    let own = match &out.response {
        Response::SessionCreated { name, output } => {
            let created = reg.session_of(
                &Request::ListSession {
                    session: name.clone(),
                },
                uid,
            );
            if let Some(s) = created {
                if let Err(e) = declare_owner(io, s, output, cred) {
                    out.response = Response::error(
                        ErrorCode::Internal,
                        format!("session created, but its output directory cannot be given to user {uid}: {e}"),
                    );
                }
            }
            created
        }
        _ => sid,
    };
    // A destroyed session's output owners are forgotten, here and in the consumer.
    let forget = match sid {
        Some(s) if destroy && !matches!(out.response, Response::Error { .. }) => {
            forget_owners(io, s)
        }
        _ => Vec::new(),
    };
    let deferred = out.deferred.take();
    let effects = own.map(|s| io.queues.take_collected(s)).unwrap_or_default();
    let Some(job_sid) = deferred.as_ref().map(|d| d.session_id).or(own) else {
        for e in &out.app_errors {
            log(e);
        }
        return (g, out.response);
    };
    if effects.is_empty() && deferred.is_none() && forget.is_empty() {
        for e in &out.app_errors {
            log(e);
        }
        return (g, out.response);
    }
    let made: Vec<Effect> = effects.iter().map(|(_, e)| e.clone()).collect();
    let pid = g.io.link.pid();
    let (tx, rx) = std::sync::mpsc::channel();
    let extra = deferred
        .as_ref()
        .map(|d| d.effects.clone())
        .unwrap_or_default();
    queues::submit(
        &mut g,
        state,
        job_sid,
        effects,
        extra,
        queues::Then::Client(tx),
    );
    if !forget.is_empty() {
        let forget = forget
            .into_iter()
            .map(|output| Effect::Consumer(ConsumerRequest::ForgetOwner { output }))
            .collect();
        queues::submit(
            &mut g,
            state,
            job_sid,
            Vec::new(),
            forget,
            queues::Then::Background,
        );
    }
    // The work runs, lock released (other clients go on); then its answers.
    reap(&mut g, state);
    drop(g);
    state.1.notify_all();
    let answers = rx.recv().unwrap_or_default();
    let mut g = lock(state);
    let State { reg, io } = &mut *g;
    // A failed effect that decides the answer: the session goes back to how it was just
    // before it, and the request fails with it.
    let mut saves = checkpoints
        .into_iter()
        .filter(|c| Some(c.session_id()) == own);
    let mut failed = None;
    for (e, a) in made.iter().zip(&answers) {
        let save = if e.has_checkpoint() {
            saves.next()
        } else {
            None
        };
        if let Some(why) = queues::failure(a) {
            if let Some(r) = reg.failure_response(job_sid, e, &why) {
                failed = Some((r, save));
                break;
            }
        }
    }
    if let Some(d) = deferred {
        let rest = answers.into_iter().skip(made.len()).collect();
        let rest = answers_now(io, pid, rest);
        out.response = reg.complete(d, rest, &mut out.app_errors);
    }
    if let Some((r, save)) = failed {
        if let Some(save) = save {
            reg.restore(save, io, &mut out.app_errors);
        }
        out.response = r;
    }
    for e in &out.app_errors {
        log(e);
    }
    (g, out.response)
}

/// The local directory a snapshot request names (`snapshot add-output DIR`, `snapshot
/// record DIR`), if any.
fn snapshot_dir(req: &Request) -> Option<String> {
    let path = match req {
        Request::SnapshotAddOutput { output, .. } => &output.path,
        Request::SnapshotRecord {
            output: Some(o), ..
        } => &o.path,
        _ => return None,
    };
    path.starts_with('/').then(|| path.clone())
}

/// Tells the consumer (first of session `sid`'s work) that the files below `output` are
/// the client's: created with its credentials (from /proc, as it is connected now; else
/// its uid and gid alone) and umask.
fn declare_owner(io: &mut Io, sid: u64, output: &str, cred: sock::PeerCred) -> Result<(), String> {
    // Network sessions and sessions without output write no local files.
    if !output.starts_with('/') {
        return Ok(());
    }
    let creds = rttng_runas::Creds::of_pid(cred.pid)
        .ok()
        .filter(|c| c.uid == cred.uid)
        .unwrap_or(rttng_runas::Creds {
            uid: cred.uid,
            gid: cred.gid,
            groups: Vec::new(),
            umask: 0o027,
        });
    // The consumer takes the owner of a file from the longest declared directory holding
    // it: a user may not declare a directory inside another user's output (their files
    // would then be created with the wrong credentials). Root may.
    if creds.uid != 0 {
        let inside = |o: &str| Path::new(output).starts_with(o);
        if let Some((o, c, _)) = io
            .owners
            .iter()
            .find(|(o, c, _)| c.uid != creds.uid && inside(o))
        {
            return Err(format!(
                "it is inside {o}, the output of a session of user {}",
                c.uid
            ));
        }
    }
    let mut sessions = BTreeSet::new();
    if let Some(at) = io.owners.iter().position(|(o, _, _)| o == output) {
        let (_, c, s) = io.owners.remove(at);
        // Sessions of the same user keep sharing the directory.
        if c.uid == creds.uid {
            sessions = s;
        }
    }
    sessions.insert(sid);
    if io.owners.len() >= MAX_OWNERS {
        io.owners.remove(0);
    }
    io.owners
        .push((output.to_string(), creds.clone(), sessions));
    let req = ConsumerRequest::SetOwner {
        output: output.to_string(),
        uid: creds.uid,
        gid: creds.gid,
        groups: creds.groups,
        umask: creds.umask,
    };
    io.consumer_in(sid, req).map(|_| ())
}

/// Session `sid` is destroyed: the output directories only it declared are forgotten;
/// returns them (for the consumer).
fn forget_owners(io: &mut Io, sid: u64) -> Vec<String> {
    let mut gone = Vec::new();
    io.owners.retain_mut(|(o, _, s)| {
        s.remove(&sid);
        let keep = !s.is_empty();
        if !keep {
            gone.push(o.clone());
        }
        keep
    });
    gone
}

/// Waits (lock released) until every app has answered all its commands, bounded: an app
/// that has answered nothing for [`APP_LATE`] is not waited for, nor is another user's app
/// once the request has waited [`APP_LATE`], and nothing past `deadline`.
fn wait_settled<'a>(
    state: &'a Shared,
    mut g: MutexGuard<'a, State>,
    uid: u32,
    t0: Instant,
    deadline: Instant,
) -> MutexGuard<'a, State> {
    let settled = |g: &State| {
        let t = Instant::now();
        g.io.apps.values().all(|c| {
            c.dead.is_some()
                || c.stalled_for(t).is_none_or(|d| d > APP_LATE)
                || (c.uid != uid && t - t0 > APP_LATE)
        })
    };
    while !settled(&g) {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        g = state
            .1
            .wait_timeout(g, left.min(WAIT_PERIOD))
            .unwrap_or_else(|p| p.into_inner())
            .0;
    }
    g
}
