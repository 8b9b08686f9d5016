//! rtnetlink access: a connection, dumps converted into [`crate::snapshot`] types, route
//! lookups, and the changes the uplink manager makes (only to routes it owns).

mod convert;
mod dump;

pub use convert::{link_from_message, route_from_message};
pub use dump::{
    dump_addresses, dump_foreign_links, dump_links, dump_neighbours, dump_routes, dump_rules,
    lookup_route,
};

use crate::Error;

/// Opens an rtnetlink connection with strict checking (needed for dumps of other namespaces'
/// addresses) and spawns its driver on the current tokio runtime.
pub fn connect() -> Result<rtnetlink::Handle, Error> {
    let (connection, handle, _messages) =
        rtnetlink::new_connection_with_strict_check().map_err(|source| Error::Socket {
            what: "rtnetlink",
            source,
        })?;
    tokio::spawn(connection);
    Ok(handle)
}
