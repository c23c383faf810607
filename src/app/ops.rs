//! The operator's ops on the selected session: attach, recreate (one slot or its whole pool)
//! and kill, each asking first when a [`Concern`] says so, and carrying out the one confirmed.

use super::selection::{Concern, Kind, kill_concerns, recreate_concerns};
use super::{App, Confirm, Effect, Pending, execute};
use crate::claude::session::{self, Start};
use crate::config::Restart;
use crate::jobs::OpJob;
use crate::time::Millis;

/// Refuses operator ops when this supervisor may not touch the server at all, or when the
/// session's host (`None`: this machine) does not answer.
fn may_act(app: &mut App, host: Option<&str>, now: Millis) -> bool {
    if let Some(why) = unreachable(app, host) {
        app.complain(why, now);
        false
    } else if app.sup.mode.observe_only {
        app.complain(
            "observe-only: another supervisor is reconciling this server",
            now,
        );
        false
    } else if app.sup.mode.dry_run {
        app.complain("dry-run: nothing is executed", now);
        false
    } else {
        true
    }
}

/// Why nothing can be done on `host` now: it did not answer the last poll.
fn unreachable(app: &App, host: Option<&str>) -> Option<String> {
    let h = app.sup.last.as_ref()?.host_down(host)?;
    Some(format!(
        "host {} is unreachable ({}): nothing can be done there now",
        h.name,
        h.reason.as_deref().unwrap_or("no answer")
    ))
}

pub(super) fn attach(app: &mut App, now: Millis, fx: &mut Vec<Effect>) {
    let Some(e) = app.selected_entry() else {
        return;
    };
    let (name, live, host) = (e.name.to_string(), e.live(), e.host.map(str::to_string));
    if let Some(why) = unreachable(app, host.as_deref()) {
        app.complain(why, now);
        return;
    }
    if !live {
        app.complain(format!("{name} has no session to attach to"), now);
        return;
    }
    // A session of another host is not on this server: no switch-client there.
    let switch = app.switch_client && host.is_none();
    if switch {
        app.say(format!("switched to {name}: prefix L comes back here"), now);
    }
    fx.push(Effect::Attach { name, switch, host });
}

pub(super) fn recreate(app: &mut App, now: Millis, fx: &mut Vec<Effect>) {
    let Some(e) = app.selected_entry() else {
        return;
    };
    let (name, kind, live) = (e.name.to_string(), e.kind, e.live());
    let Kind::Slot(slot) = kind else {
        app.complain(
            format!("{name} is not a slot: only configured slots are recreated (x kills it)"),
            now,
        );
        return;
    };
    let host = app.sup.layout.slots[slot].host.clone();
    if !may_act(app, host.as_deref(), now) {
        return;
    }
    let concerns = recreate_concerns(&app.sup.layout, app.sup.last.as_ref(), slot);
    let start = app.sup.next_agent_start(&name, false, now);
    if concerns.is_empty() && start.is_none() {
        perform(app, Pending::Recreate(vec![name]), now, fx);
        return;
    }
    let verb = if live { "Restart" } else { "Create" };
    let mut detail: Vec<String> = concerns.iter().map(ToString::to_string).collect();
    // An agent slot always asks: which conversation it comes back with is the question.
    let instead = start.map(|s| {
        detail.push(match &s {
            Start::Resume { id } => format!("resumes conversation {}", session::short(id)),
            Start::Fresh { why, .. } => format!("starts a fresh conversation: {why}"),
        });
        s.resumed().then(|| {
            (
                'f',
                "fresh conversation".to_string(),
                Pending::RecreateFresh(name.clone()),
            )
        })
    });
    app.confirm = Some(Confirm {
        question: format!("{verb} {name}?"),
        detail,
        pending: Pending::Recreate(vec![name]),
        instead: instead.flatten(),
    });
}

pub(super) fn recreate_pool(app: &mut App, now: Millis) {
    let Some(e) = app.selected_entry() else {
        return;
    };
    let (name, kind) = (e.name.to_string(), e.kind);
    let Kind::Slot(slot) = kind else {
        app.complain(
            format!("{name} is not a slot: select a slot of the pool"),
            now,
        );
        return;
    };
    let host = app.sup.layout.slots[slot].host.clone();
    if !may_act(app, host.as_deref(), now) {
        return;
    }
    let layout = &app.sup.layout;
    let group = layout.slots[slot].group.clone();
    let Some(g) = layout.groups.iter().find(|g| g.name == group) else {
        return;
    };
    let names: Vec<String> = g
        .slots
        .iter()
        .map(|&i| layout.slots[i].name.clone())
        .collect();
    // Per slot, only what a recreate interrupts; the pool-wide concern is said once below.
    let mut detail: Vec<String> = g
        .slots
        .iter()
        .flat_map(|&i| {
            recreate_concerns(layout, app.sup.last.as_ref(), i)
                .into_iter()
                .filter_map(move |c| match c {
                    Concern::Busy(st) => Some((i, st)),
                    _ => None,
                })
        })
        .map(|(i, st)| format!("{}: is {st}", layout.slots[i].name))
        .collect();
    if g.restart == Some(Restart::Never) {
        detail.insert(
            0,
            Concern::OperatorOwned {
                pool: group.clone(),
            }
            .to_string(),
        );
    }
    app.confirm = Some(Confirm {
        question: format!("Recreate all {} slots of pool {group}?", names.len()),
        detail,
        pending: Pending::Recreate(names),
        instead: None,
    });
}

pub(super) fn kill(app: &mut App, now: Millis) {
    let Some(e) = app.selected_entry() else {
        return;
    };
    let (name, live, host) = (e.name.to_string(), e.live(), e.host.map(str::to_string));
    let concerns = kill_concerns(&app.sup.layout, &e);
    if !live {
        app.complain(format!("{name} has no session to kill"), now);
        return;
    }
    if !may_act(app, host.as_deref(), now) {
        return;
    }
    app.confirm = Some(Confirm {
        question: format!("Kill session {name}?"),
        detail: concerns.iter().map(ToString::to_string).collect(),
        pending: Pending::Kill(host, name),
        instead: None,
    });
}

pub(super) fn perform(app: &mut App, pending: Pending, now: Millis, fx: &mut Vec<Effect>) {
    match pending {
        Pending::Recreate(names) => {
            let busy: Vec<&String> = names
                .iter()
                .filter(|n| {
                    app.sup
                        .memory
                        .slot(n)
                        .is_some_and(|m| m.in_flight.is_some())
                })
                .collect();
            let skipped = busy.len();
            let busy: Vec<String> = busy.into_iter().cloned().collect();
            let jobs: Vec<OpJob> = names
                .iter()
                .filter(|n| !busy.contains(n))
                .filter_map(|n| app.sup.recreate(n, now))
                .collect();
            let text = match (jobs.len(), skipped) {
                (0, _) => "an op is already in flight; wait for the next poll".to_string(),
                (1, 0) => format!("recreating {}", jobs[0].name),
                (n, 0) => format!("recreating {n} sessions"),
                (n, s) => format!("recreating {n} sessions ({s} already in flight)"),
            };
            if jobs.is_empty() {
                app.complain(text, now);
            } else {
                app.say(text, now);
            }
            let jobs = app.sup.sent(jobs);
            execute(jobs, fx);
        }
        Pending::RecreateFresh(name) => {
            if app
                .sup
                .memory
                .slot(&name)
                .is_some_and(|m| m.in_flight.is_some())
            {
                app.complain("an op is already in flight; wait for the next poll", now);
                return;
            }
            let jobs: Vec<OpJob> = app.sup.recreate_fresh(&name, now).into_iter().collect();
            app.say(format!("recreating {name} with a fresh conversation"), now);
            let jobs = app.sup.sent(jobs);
            execute(jobs, fx);
        }
        Pending::Kill(host, name) => {
            let job = app.sup.kill_on(host.as_deref(), &name, now);
            app.say(format!("killing {name}"), now);
            let jobs = app.sup.sent(vec![job]);
            execute(jobs, fx);
        }
    }
}

#[cfg(test)]
mod tests;
