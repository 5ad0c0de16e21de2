using Thaw.Cli.Bench.Http;

namespace Thaw.Tests.Cli.Bench;

/// <summary>wrk against the bare Kestrel floor: real runs, real numbers, and failures that are not hidden.</summary>
public sealed class WrkTests : IAsyncLifetime
{
    private FloorServer _server = null!;

    public async Task InitializeAsync() => _server = await FloorServer.StartAsync();

    public async Task DisposeAsync() => await _server.DisposeAsync();

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task Measures_the_floor(int connections)
    {
        var result = await Wrk.RunAsync(new Uri(_server.Url, "floor"), FloorBench.Body, connections, TimeSpan.FromSeconds(1));
        Assert.True(result.Requests > 0, $"requests {result.Requests}");
        Assert.Equal(0, result.Errors);
        Assert.True(result.P50Ms > 0, $"p50 {result.P50Ms} ms");
        Assert.True(result.P99Ms >= result.P50Ms, $"p99 {result.P99Ms} ms < p50 {result.P50Ms} ms");
        Assert.True(result.Rps > 0, $"rps {result.Rps}");
    }

    [Fact]
    public async Task Error_responses_are_reported_not_measured()
    {
        var e = await Assert.ThrowsAsync<WrkErrorsException>(() => Wrk.RunAsync(new Uri(_server.Url, "no-such-path"), FloorBench.Body, 1, TimeSpan.FromSeconds(1)));
        Assert.True(e.Result.Errors > 0);
        Assert.Equal(e.Result.Requests, e.Result.Errors);
        Assert.Contains("status ≥ 400: ", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_with_quotes_backslashes_and_utf8_is_a_valid_lua_literal()
    {
        // The body travels as a Lua string literal in wrk's script; wrk exits non-zero on a Lua error.
        var result = await Wrk.RunAsync(new Uri(_server.Url, "floor"), "{\"s\":\"a\\\"b\\\\c\\n é ✓\"}", 1, TimeSpan.FromSeconds(1));
        Assert.Equal(0, result.Errors);
    }

    [Fact]
    public async Task HttpLatency_returns_every_sample_and_rejects_error_statuses()
    {
        var samples = await HttpLatency.SampleAsync(new Uri(_server.Url, "floor"), FloorBench.Body, 200, warmup: 10);
        Assert.Equal(200, samples.Length);
        Assert.All(samples, ms => Assert.True(ms > 0));
        var e = await Assert.ThrowsAsync<HttpRequestException>(() => HttpLatency.SampleAsync(new Uri(_server.Url, "no-such-path"), FloorBench.Body, 1, warmup: 0));
        Assert.Equal(System.Net.HttpStatusCode.NotFound, e.StatusCode);
    }
}
