//! Server functions: the API the browser and external clients share.
//!
//! Each one resolves its caller (see `context`), checks the role, calls one domain function
//! and maps the error. No SQL here. Every function that touches tenant data is listed in
//! [`TENANT_ENDPOINTS`], which the cross-tenant test matrix walks.

#[cfg(feature = "ssr")]
pub mod context;
pub mod keys;
pub mod members;
pub mod session;
pub mod system;
pub mod workspace;

/// Whether an endpoint reads or changes tenant data, and the least role it needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Needs {
    /// Any member or a key with `read`/`admin`.
    Read(argus_types::Role),
    /// A change: the role, or for keys the `admin` scope.
    Write(argus_types::Role),
}

/// One tenant endpoint for the cross-tenant matrix: method, path, the least role, and a
/// form-encoded example body (`{other}` is replaced with an id of the workspace under test).
#[derive(Clone, Copy, Debug)]
pub struct TenantEndpoint {
    pub method: &'static str,
    pub path: &'static str,
    pub needs: Needs,
    pub body: &'static str,
}

use argus_types::Role::{Admin, Owner, Viewer};

/// Every route and server function that touches tenant data. A server function missing from
/// here and from [`PUBLIC_ENDPOINTS`] fails the matrix test.
pub const TENANT_ENDPOINTS: &[TenantEndpoint] = &[
    TenantEndpoint {
        method: "GET",
        path: "/api/v1/auth/session",
        needs: Needs::Read(Viewer),
        body: "",
    },
    TenantEndpoint {
        method: "GET",
        path: "/api/v1/api-keys",
        needs: Needs::Read(Viewer),
        body: "",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/api-keys/create",
        needs: Needs::Write(Admin),
        body: "name=matrix&scopes=read",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/api-keys/revoke",
        needs: Needs::Write(Admin),
        body: "id={key}",
    },
    TenantEndpoint {
        method: "GET",
        path: "/api/v1/members",
        needs: Needs::Read(Viewer),
        body: "",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/members/add",
        needs: Needs::Write(Owner),
        body: "email={outsider_email}&role=viewer",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/members/role",
        needs: Needs::Write(Owner),
        body: "user_id={member}&role=viewer",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/members/remove",
        needs: Needs::Write(Owner),
        body: "user_id={member}",
    },
    TenantEndpoint {
        method: "GET",
        path: "/api/v1/workspace",
        needs: Needs::Read(Viewer),
        body: "",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/workspace/update",
        needs: Needs::Write(Owner),
        body: "name=Renamed&retention_days=30",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/auth/switch",
        needs: Needs::Write(Viewer),
        body: "workspace_id={workspace}",
    },
    TenantEndpoint {
        method: "POST",
        path: "/api/v1/workspaces/create",
        needs: Needs::Write(Viewer),
        body: "name=Another",
    },
];

/// Server functions that need no credentials, or touch no tenant data.
pub const PUBLIC_ENDPOINTS: &[&str] = &[
    "/api/v1/system/status",
    "/api/v1/auth/signup",
    "/api/v1/auth/login",
    "/api/v1/auth/token",
    "/api/v1/auth/logout",
    // The caller's own session or null; never another workspace's data.
    "/api/v1/auth/current",
    // The key just created by a plain form post, from the browser's own flash cookie.
    "/api/v1/api-keys/flash",
];
