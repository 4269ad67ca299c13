//! PostgreSQL's `NOTIFY` and `LISTEN`, where the two backends differ most:
//! SQLite has no notifications, so there [`Database::notify`] does nothing and
//! [`ChannelListener::connect`] answers `None`, and a follower polls instead.
//!
//! A notification is a hint, never the record: it is sent after the
//! transaction that made the change has committed, from a statement of its
//! own, and it is lost while a listener is disconnected. Whoever listens
//! therefore also polls the table the change is recorded in, and reads it
//! again after every reconnect.

use std::str::FromStr;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use crate::{Backend, Database, StoreError};

/// The longest `application_name` PostgreSQL keeps (`NAMEDATALEN` - 1);
/// a longer one is cut there by the server.
pub const MAX_APPLICATION_NAME_BYTES: usize = 63;

impl Database {
    /// Send `payload` on `channel` in a statement of its own, outside any
    /// transaction. A notifying commit takes a lock that every other
    /// notifying commit in the cluster waits for, so this is never called
    /// inside a transaction that does other work. On SQLite it does nothing.
    pub async fn notify(&self, channel: &str, payload: &str) -> Result<(), StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(());
        }
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(channel)
            .bind(payload)
            .execute(&self.pool)
            .await?;
        Ok(())
    }
}

/// What a [`ChannelListener`] heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    /// A notification's payload, as sent (PostgreSQL bounds it to 8000 bytes).
    Payload(String),
    /// The connection was lost: notifications sent until a new listener is
    /// connected are lost, so the listener is dropped and connected again,
    /// and the listened-for state is read again after that.
    Lost,
}

/// A dedicated PostgreSQL connection that listens on one channel; not from
/// the pool, so a pool under load never delays a notification and the
/// connection can be told apart in `pg_stat_activity` by its
/// `application_name`.
pub struct ChannelListener {
    listener: PgListener,
}

impl ChannelListener {
    /// Connect and `LISTEN` on `channel`, naming the connection
    /// `application_name` (cut to [`MAX_APPLICATION_NAME_BYTES`]). `None` on
    /// SQLite, which has no notifications.
    ///
    /// A notification committed after this returns is heard; anything
    /// committed before it is not, so a caller reads the state after
    /// connecting.
    pub async fn connect(
        db: &Database,
        channel: &str,
        application_name: &str,
    ) -> Result<Option<ChannelListener>, StoreError> {
        if db.backend != Backend::Postgres {
            return Ok(None);
        }
        let options = PgConnectOptions::from_str(&db.url)?.application_name(cut(application_name));
        // A pool of one connection that never expires: the listener takes
        // its connection from it. A lost connection ends this listener
        // (`Heard::Lost`) and the caller connects a new one.
        let pool = PgPoolOptions::new()
            .max_connections(1)
            .max_lifetime(None)
            .idle_timeout(None)
            .connect_with(options)
            .await?;
        let mut listener = PgListener::connect_with(&pool).await?;
        listener.ignore_pool_close_event(true);
        // Reported at once rather than reconnected behind the caller's back,
        // so the caller knows when to read the state again.
        listener.eager_reconnect(false);
        listener.listen(channel).await?;
        Ok(Some(ChannelListener { listener }))
    }

    /// Wait for the next notification, or for the connection to be lost.
    /// After [`Heard::Lost`] or an error, drop this listener and connect a
    /// new one.
    pub async fn next(&mut self) -> Result<Heard, StoreError> {
        Ok(match self.listener.try_recv().await? {
            Some(notification) => Heard::Payload(notification.payload().to_owned()),
            None => Heard::Lost,
        })
    }
}

/// `name` cut to at most [`MAX_APPLICATION_NAME_BYTES`] on a character
/// boundary, as PostgreSQL would keep it.
fn cut(name: &str) -> &str {
    let mut end = name.len().min(MAX_APPLICATION_NAME_BYTES);
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

#[cfg(test)]
mod tests {
    use super::cut;

    #[test]
    fn application_names_are_cut_where_postgres_cuts_them() {
        assert_eq!(cut("tongban-listen node-a"), "tongban-listen node-a");
        assert_eq!(cut(&"x".repeat(80)).len(), 63);
        // A character that straddles the limit is left out whole.
        let name = format!("{}节点", "x".repeat(61));
        assert_eq!(cut(&name), "x".repeat(61));
    }
}
