//! How many connections each person keeps busy (`[server] max_connections_per_person`): the
//! accept loop gives every request a [`PersonHold`], the `Principal` extractor claims it for
//! the person the request authenticates as, and it is given back when the response has been
//! sent. So one person, even over the certificate their whole agency shares, cannot hold all
//! of the agency's connections with requests in flight.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A person: their agency and `sub`.
type Person = (Arc<str>, String);

/// The connections on which each person (agency and `sub`) has a request in flight, at most
/// `cap` each: one person cannot hold all of an agency's connections busy.
#[derive(Debug)]
pub struct People {
    cap: usize,
    /// Per person, their requests in flight on each connection (by its number).
    busy: Mutex<HashMap<Person, HashMap<u64, usize>>>,
}

impl People {
    pub fn new(cap: usize) -> Arc<People> {
        Arc::new(People {
            cap,
            busy: Mutex::new(HashMap::new()),
        })
    }

    fn claim(&self, person: &Person, connection: u64) -> Result<(), usize> {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let on = busy.entry(person.clone()).or_default();
        if !on.contains_key(&connection) && on.len() >= self.cap {
            return Err(self.cap);
        }
        *on.entry(connection).or_insert(0) += 1;
        Ok(())
    }

    fn release(&self, person: &Person, connection: u64) {
        let mut busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        let Some(on) = busy.get_mut(person) else {
            return;
        };
        if let Some(n) = on.get_mut(&connection) {
            *n -= 1;
            if *n == 0 {
                on.remove(&connection);
            }
        }
        if on.is_empty() {
            busy.remove(person);
        }
    }

    /// Connections on which `agency`'s `sub` has a request in flight.
    pub fn busy(&self, agency: &str, sub: &str) -> usize {
        let busy = self.busy.lock().unwrap_or_else(|e| e.into_inner());
        busy.get(&(Arc::from(agency), sub.to_owned()))
            .map_or(0, HashMap::len)
    }
}

/// A request's place in its person's count: set by the accept loop on every request, claimed
/// when the request authenticates (the `Principal` extractor), and given back when the last
/// copy is dropped (the accept loop keeps one until the response body has been sent).
#[derive(Debug, Clone)]
pub struct PersonHold(Arc<Hold>);

#[derive(Debug)]
struct Hold {
    people: Arc<People>,
    connection: u64,
    person: Mutex<Option<Person>>,
}

impl PersonHold {
    pub fn new(people: Arc<People>, connection: u64) -> PersonHold {
        PersonHold(Arc::new(Hold {
            people,
            connection,
            person: Mutex::new(None),
        }))
    }

    /// Counts the request against `agency`'s `sub` (once per request); the cap when the
    /// person already has requests in flight on as many other connections.
    pub fn claim(&self, agency: &Arc<str>, sub: &str) -> Result<(), usize> {
        let mut person = self.0.person.lock().unwrap_or_else(|e| e.into_inner());
        if person.is_some() {
            return Ok(());
        }
        let who = (agency.clone(), sub.to_owned());
        self.0.people.claim(&who, self.0.connection)?;
        *person = Some(who);
        Ok(())
    }
}

impl Drop for Hold {
    fn drop(&mut self) {
        let person = self.person.get_mut().unwrap_or_else(|e| e.into_inner());
        if let Some(who) = person.take() {
            self.people.release(&who, self.connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_person_is_counted_once_per_connection_and_refused_beyond_the_cap() {
        let people = People::new(2);
        let csc: Arc<str> = Arc::from("csc");
        let on = |connection| PersonHold::new(people.clone(), connection);
        let (a, b, c) = (on(1), on(2), on(3));
        a.claim(&csc, "sw.one").unwrap();
        let again = on(1);
        again.claim(&csc, "sw.one").unwrap();
        b.claim(&csc, "sw.one").unwrap();
        assert_eq!(people.busy("csc", "sw.one"), 2);
        assert_eq!(c.claim(&csc, "sw.one"), Err(2));
        c.claim(&csc, "sw.two").unwrap();
        drop(b);
        assert_eq!(people.busy("csc", "sw.one"), 1);
        drop((a, again));
        assert_eq!(people.busy("csc", "sw.one"), 0);
    }
}
