using System.Net;
using System.Net.Sockets;
using Thaw.Cli.Client;

namespace Thaw.Tests.Cli.Client;

/// <summary>The client without a thawd: where it connects, what nobody listening looks like, Server-Timing.</summary>
public sealed class ThawClientTests
{
    [Fact]
    public async Task Nobody_listening_says_thawd_is_not_reachable_and_how_to_start_it()
    {
        // A port just freed: nothing listens on it.
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        foreach (var url in new[] { $"http://127.0.0.1:{port}", $"unix:/tmp/thaw-test-{Guid.NewGuid():N}.sock" })
        {
            using var client = new ThawClient(url);
            var e = await Assert.ThrowsAsync<ThawUnreachableException>(() => client.ListAsync());
            Assert.Equal($"thawd is not reachable at {url} (start it with `thaw serve`)", e.Message);
            Assert.IsAssignableFrom<IOException>(e);
        }
    }

    [Fact]
    public void The_url_comes_from_the_option_then_the_environment_and_server_timing_is_parsed()
    {
        Assert.Equal("unix:/run/thaw.sock", ThawClient.ResolveUrl("unix:/run/thaw.sock", "http://10.0.0.1:9000"));
        Assert.Equal("http://10.0.0.1:9000", ThawClient.ResolveUrl(null, "http://10.0.0.1:9000"));
        Assert.Equal("http://127.0.0.1:8080", ThawClient.ResolveUrl(" ", null));
        Assert.Throws<ArgumentException>(() => new ThawClient("ftp://host/"));

        var phases = ThawClient.ParseServerTiming("queue;dur=0.01, claim;dur=0.5, fork;dur=1.25, cache;desc=\"x\", total;dur=12");
        Assert.Equal(["queue", "claim", "fork", "total"], phases.Keys);
        Assert.Equal(1.25, phases["fork"]);
        Assert.Empty(ThawClient.ParseServerTiming(null));

        var error = ThawClient.Error(404, "Not Found", "<html>nope</html>"u8.ToArray());
        Assert.Equal((404, "", "thawd answered 404 Not Found: <html>nope</html>"), (error.Status, error.Code, error.Message));
    }
}
