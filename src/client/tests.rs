use clap::CommandFactory;
use prost_reflect::DescriptorPool;

use crate::{cli::Cli, proto};

/// Each analytic's flags are its request's fields, `--where` standing for `filter`; the table
/// is the positional argument and hints are left to the server's planner.
#[test]
fn analytic_flags_are_named_after_the_request_fields() {
    let pool = DescriptorPool::decode(proto::FILE_DESCRIPTOR_SET).unwrap();
    let cli = Cli::command();
    let client = cli.find_subcommand("client").expect("client command");
    let analytics = [
        ("moving-average", "MovingAverageRequest"),
        ("trend", "TrendRequest"),
        ("detect-anomalies", "DetectAnomaliesRequest"),
        ("window-aggregate", "WindowAggregateRequest"),
        ("percentiles", "PercentilesRequest"),
        ("correlation", "CorrelationRequest"),
        ("histogram", "HistogramRequest"),
        ("top-n", "TopNRequest"),
    ];
    for (command, request) in analytics {
        let sub = client
            .find_subcommand(command)
            .unwrap_or_else(|| panic!("no `client {command}`"));
        let mut flags: Vec<String> = sub
            .get_arguments()
            .filter(|a| !a.is_global_set())
            .filter_map(|a| a.get_long().map(str::to_owned))
            .filter(|long| long != "help")
            .collect();
        flags.sort();
        let message = pool
            .get_message_by_name(&format!("vastgate.v1.{request}"))
            .unwrap();
        let mut fields: Vec<String> = message
            .fields()
            .map(|f| f.name().to_owned())
            .filter(|name| name != "table" && name != "hints")
            .map(|name| {
                if name == "filter" {
                    "where".to_owned()
                } else {
                    name.replace('_', "-")
                }
            })
            .collect();
        fields.sort();
        assert_eq!(flags, fields, "`client {command}` vs {request}");
    }
}
