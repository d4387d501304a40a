//! Which paths under an API root AWX 24.6.1 routes at all (`awx/api/urls/`). A path no route
//! matches gets AWX's own 404 handler before any authentication, and Django's APPEND_SLASH
//! redirects a slashless path only when the slashed one resolves; a routed path the simulator
//! does not implement answers DRF's "Not found." after authentication instead.

/// The top-level names of AWX 24.6.1's v2 URL configuration that take a list or a detail.
const TOP: &[&str] = &[
    "activity_stream",
    "ad_hoc_commands",
    "analytics",
    "applications",
    "bulk",
    "config",
    "constructed_inventories",
    "credential_input_sources",
    "credential_types",
    "credentials",
    "dashboard",
    "execution_environments",
    "groups",
    "host_metric_summary_monthly",
    "host_metrics",
    "hosts",
    "instance_groups",
    "instances",
    "inventories",
    "inventory_sources",
    "inventory_updates",
    "job_templates",
    "jobs",
    "labels",
    "me",
    "mesh_visualizer",
    "metrics",
    "notification_templates",
    "notifications",
    "organizations",
    "ping",
    "project_updates",
    "projects",
    "receptor_addresses",
    "role_definitions",
    "role_team_assignments",
    "role_user_assignments",
    "roles",
    "schedules",
    "service_index",
    "settings",
    "system_job_templates",
    "system_jobs",
    "teams",
    "tokens",
    "unified_job_templates",
    "unified_jobs",
    "users",
    "workflow_approval_templates",
    "workflow_approvals",
    "workflow_job_nodes",
    "workflow_job_template_nodes",
    "workflow_job_templates",
    "workflow_jobs",
];

/// Names routed only with an id after them: there is no list (`job_events/` is a 404).
const DETAIL_ONLY: &[&str] = &[
    "job_events",
    "job_host_summaries",
    "ad_hoc_command_events",
    "project_update_events",
    "inventory_update_events",
    "system_job_events",
];

/// Whether AWX routes the path segments after the API root (empty: the root itself).
pub fn routed(segs: &[&str]) -> bool {
    match segs {
        [] => true,
        [first, rest @ ..] if DETAIL_ONLY.contains(first) => rest
            .first()
            .is_some_and(|id| id.bytes().all(|b| b.is_ascii_digit())),
        [first, ..] => TOP.contains(first),
    }
}

#[cfg(test)]
mod tests {
    use super::routed;

    #[test]
    fn lists_details_and_unrouted() {
        assert!(routed(&[]));
        assert!(routed(&["unified_jobs"]));
        assert!(routed(&["jobs", "12", "job_host_summaries"]));
        assert!(routed(&["job_host_summaries", "12"]));
        assert!(!routed(&["job_host_summaries"]));
        assert!(!routed(&["job_events"]));
        assert!(!routed(&["job_events", "x"]));
        assert!(!routed(&["nothing_here"]));
    }
}
