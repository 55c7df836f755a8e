//! batch/v1: Jobs and CronJobs.

use jiff::Timestamp;
use serde_json::Value;

use crate::selector::LabelSelector;

use super::{
    AGE, Column, NAME, Printer, age_of, array_at, at, col, container_cells, has_deletion_timestamp,
    human_duration, int_at, name_of, since, str_at, time_at, wide,
};

const SELECTOR: &str = "A label query over pods that should match the pod count. Normally, the system sets this field for you. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/#label-selectors";
const JOB_SUCCEEDED: &str = "The number of pods which reached phase Succeeded. The value increases monotonically for a given spec. However, it may decrease in reaction to scale down of elastic indexed jobs.";
const CJ_SCHEDULE: &str = "The schedule in Cron format, see https://en.wikipedia.org/wiki/Cron.";
const CJ_TIME_ZONE: &str = "The time zone name for the given schedule, see https://en.wikipedia.org/wiki/List_of_tz_database_time_zones. If not specified, this will default to the time zone of the kube-controller-manager process. The set of valid time zone names and the time zone offset is loaded from the system-wide time zone database by the API server during CronJob validation and the controller manager during execution. If no system-wide time zone database can be found a bundled version of the database is used instead. If the time zone name becomes invalid during the lifetime of a CronJob or due to a change in host configuration, the controller will stop creating new new Jobs and will create a system event with the reason UnknownTimeZone. More information can be found in https://kubernetes.io/docs/concepts/workloads/controllers/cron-jobs/#time-zones";
const CJ_SUSPEND: &str = "This flag tells the controller to suspend subsequent executions, it does not apply to already started executions.  Defaults to false.";
const CJ_ACTIVE: &str = "A list of pointers to currently running jobs.";
const CJ_LAST_SCHEDULE: &str =
    "Information when was the last time the job was successfully scheduled.";

const CONTAINERS: Column = wide("Containers", "Names of each container in the template.");
const IMAGES: Column = wide(
    "Images",
    "Images referenced by each container in the template.",
);

pub(super) const JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Status", "Status of the job."),
    col("Completions", JOB_SUCCEEDED),
    col("Duration", "Time required to complete the job."),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", SELECTOR),
];

fn condition_true(job: &Value, kind: &str) -> bool {
    array_at(job, "status.conditions")
        .iter()
        .any(|c| str_at(c, "type") == kind && str_at(c, "status") == "True")
}

pub(super) fn job_cells(job: &Value, now: Timestamp) -> Vec<Value> {
    let succeeded = int_at(job, "status.succeeded");
    let completions = match at(job, "spec.completions").and_then(Value::as_i64) {
        Some(c) => format!("{succeeded}/{c}"),
        None => match int_at(job, "spec.parallelism") {
            p if p > 1 => format!("{succeeded}/1 of {p}"),
            _ => format!("{succeeded}/1"),
        },
    };
    let duration = match (
        time_at(job, "status.startTime"),
        time_at(job, "status.completionTime"),
    ) {
        (None, _) => String::new(),
        (Some(start), None) => human_duration(now.duration_since(start)),
        (Some(start), Some(end)) => human_duration(end.duration_since(start)),
    };
    let status = if condition_true(job, "Complete") {
        "Complete"
    } else if condition_true(job, "Failed") {
        "Failed"
    } else if has_deletion_timestamp(job) {
        "Terminating"
    } else if condition_true(job, "Suspended") {
        "Suspended"
    } else if condition_true(job, "FailureTarget") {
        "FailureTarget"
    } else if condition_true(job, "SuccessCriteriaMet") {
        "SuccessCriteriaMet"
    } else {
        "Running"
    };
    let (names, images) = container_cells(at(job, "spec.template.spec"));
    vec![
        name_of(job),
        Value::from(status),
        Value::String(completions),
        Value::String(duration),
        age_of(job, now),
        Value::String(names),
        Value::String(images),
        Value::String(format_label_selector(at(job, "spec.selector"))),
    ]
}

/// The table of Jobs.
pub(crate) static JOB: Printer = Printer {
    columns: JOB_COLUMNS,
    cells: job_cells,
};

pub(super) const CRON_JOB_COLUMNS: &[Column] = &[
    NAME,
    col("Schedule", CJ_SCHEDULE),
    col("Timezone", CJ_TIME_ZONE),
    Column {
        name: "Suspend",
        kind: "boolean",
        format: "",
        description: CJ_SUSPEND,
        priority: 0,
    },
    Column {
        name: "Active",
        kind: "integer",
        format: "",
        description: CJ_ACTIVE,
        priority: 0,
    },
    col("Last Schedule", CJ_LAST_SCHEDULE),
    AGE,
    CONTAINERS,
    IMAGES,
    wide("Selector", SELECTOR),
];

pub(super) fn cron_job_cells(cj: &Value, now: Timestamp) -> Vec<Value> {
    let last = match time_at(cj, "status.lastScheduleTime") {
        Some(t) => since(Some(t), now),
        None => "<none>".into(),
    };
    let zone = at(cj, "spec.timeZone")
        .and_then(Value::as_str)
        .unwrap_or("<none>");
    // printBoolPtr.
    let suspend = match at(cj, "spec.suspend").and_then(Value::as_bool) {
        Some(true) => "True",
        Some(false) => "False",
        None => "<unset>",
    };
    let (names, images) = container_cells(at(cj, "spec.jobTemplate.spec.template.spec"));
    vec![
        name_of(cj),
        Value::from(str_at(cj, "spec.schedule")),
        Value::from(zone),
        Value::from(suspend),
        Value::from(array_at(cj, "status.active").len()),
        Value::String(last),
        age_of(cj, now),
        Value::String(names),
        Value::String(images),
        Value::String(format_label_selector(at(
            cj,
            "spec.jobTemplate.spec.selector",
        ))),
    ]
}

/// The table of CronJobs.
pub(crate) static CRON_JOB: Printer = Printer {
    columns: CRON_JOB_COLUMNS,
    cells: cron_job_cells,
};

/// apimachinery's `FormatLabelSelector`: the selector's requirements,
/// sorted by key; `<none>` when it selects nothing or is absent, `<error>`
/// when it is not a valid selector.
pub(super) fn format_label_selector(selector: Option<&Value>) -> String {
    let Some(sel) = selector.filter(|s| s.is_object()) else {
        return "<none>".into();
    };
    let parsed = serde_json::from_value(sel.clone())
        .ok()
        .and_then(|typed| LabelSelector::from_label_selector(&typed).ok());
    match parsed {
        None => "<error>".into(),
        Some(s) if s.is_empty() => "<none>".into(),
        Some(s) => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn now() -> Timestamp {
        "2024-01-01T00:10:00Z".parse().unwrap()
    }

    #[test]
    fn job_rows() {
        let job = json!({
            "metadata": {"name": "pi", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"completions": 3, "parallelism": 2,
                     "selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                     "template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}},
            "status": {"succeeded": 3, "startTime": "2024-01-01T00:00:00Z",
                       "completionTime": "2024-01-01T00:00:42Z",
                       "conditions": [{"type": "SuccessCriteriaMet", "status": "True"},
                                      {"type": "Complete", "status": "True"}]}
        });
        let cells = job_cells(&job, now());
        assert_eq!(
            cells,
            vec![
                json!("pi"),
                json!("Complete"),
                json!("3/3"),
                json!("42s"),
                json!("10m"),
                json!("c"),
                json!("busybox"),
                json!("batch.kubernetes.io/controller-uid=u"),
            ]
        );
        let running = json!({"metadata": {"name": "w"}, "spec": {"parallelism": 4},
                             "status": {"startTime": "2024-01-01T00:09:00Z"}});
        let cells = job_cells(&running, now());
        assert_eq!(cells[1], "Running");
        assert_eq!(cells[2], "0/1 of 4");
        assert_eq!(cells[3], "60s");
        let failed = json!({"metadata": {"name": "f"}, "spec": {"completions": 1},
                            "status": {"conditions": [{"type": "FailureTarget", "status": "True"}]}});
        assert_eq!(job_cells(&failed, now())[1], "FailureTarget");
        assert_eq!(job_cells(&failed, now())[3], "");
    }

    #[test]
    fn selectors_print_as_format_label_selector() {
        let text = |sel: Value| format_label_selector(Some(&sel));
        assert_eq!(
            text(json!({"matchLabels": {"tier": "db"},
                        "matchExpressions": [{"key": "app", "operator": "In", "values": ["b", "a"]},
                                             {"key": "old", "operator": "DoesNotExist"}]})),
            "app in (a,b),!old,tier=db"
        );
        assert_eq!(text(json!({})), "<none>");
        assert_eq!(format_label_selector(None), "<none>");
        assert_eq!(
            text(json!({"matchExpressions": [{"key": "app", "operator": "Near"}]})),
            "<error>"
        );
    }

    #[test]
    fn cron_job_rows() {
        let cj = json!({
            "metadata": {"name": "tick", "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"schedule": "* * * * *", "suspend": false,
                     "jobTemplate": {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}},
            "status": {"active": [{"name": "tick-1"}], "lastScheduleTime": "2024-01-01T00:09:00Z"}
        });
        assert_eq!(
            cron_job_cells(&cj, now()),
            vec![
                json!("tick"),
                json!("* * * * *"),
                json!("<none>"),
                json!("False"),
                json!(1),
                json!("60s"),
                json!("10m"),
                json!("c"),
                json!("busybox"),
                json!("<none>"),
            ]
        );
    }
}
