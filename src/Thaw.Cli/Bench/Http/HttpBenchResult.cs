namespace Thaw.Cli.Bench.Http;

// Serialized with JsonNamingPolicy.SnakeCaseLower (HttpReportWriter):
// {"results":[{"case":"floor","clients":N,"p50_ms":x,"p99_ms":y,"rps":z}]}.

/// <summary>
/// One row of the HTTP benches: a case (floor: bare Kestrel; later warm-noop and cold through
/// thawd), a number of concurrent clients (connections), latency percentiles and throughput.
/// </summary>
internal sealed record HttpBenchResult(string Case, int Clients, double P50Ms, double P99Ms, double Rps);

internal sealed record HttpBenchReport(IReadOnlyList<HttpBenchResult> Results);
