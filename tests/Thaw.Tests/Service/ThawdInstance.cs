using System.Formats.Tar;
using System.IO.Compression;
using System.Net.Http.Headers;
using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Linux.Cgroups;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;
using Thaw.Service;
using Thaw.Tests.Support;

namespace Thaw.Tests.Service;

/// <summary>
/// A real thawd for end-to-end tests: its own instance name (prefix thawd-less "thawh") and state
/// dir, Kestrel on a free loopback port, an HttpClient for it. Restartable on the same state dir
/// (the registry's persistence); disposing checks nothing was left behind.
/// </summary>
public sealed class ThawdInstance : IAsyncDisposable
{
    private readonly TestInstance _instance = new("thawh");
    private readonly List<string> _dirs = [];

    private ThawdInstance(Action<ThawdOptions>? configure) => Configure = configure;

    public Action<ThawdOptions>? Configure { get; }

    public Thawd Thawd { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    public string StateDir => _instance.Naming.StateDir;

    public string Name => _instance.Naming.Name;

    public static async Task<ThawdInstance> StartAsync(Action<ThawdOptions>? configure = null)
    {
        var instance = new ThawdInstance(configure);
        await instance.StartThawdAsync();
        return instance;
    }

    private async Task StartThawdAsync()
    {
        var options = new ThawdOptions { Listen = "127.0.0.1:0" };
        options.Resources.Name = _instance.Naming.Name;
        options.Resources.StateDir = _instance.Naming.StateDir;
        options.Resources.Netns = new NetnsPoolOptions { Size = 2 };
        options.Resources.Cgroups = new CgroupPoolOptions { Size = 2 };
        options.Resources.Roots = new RootPoolOptions { Size = 2 };
        options.Python.InitTimeout = TimeSpan.FromSeconds(20);
        options.HandlerCache.MemoryBudgetBytes = 4L << 30;
        Configure?.Invoke(options);
        Thawd = await Thawd.StartAsync(options, NullLoggerFactory.Instance);
        Http = new HttpClient { BaseAddress = Thawd.Url, Timeout = TimeSpan.FromSeconds(60) };
    }

    /// <summary>Stops thawd and starts it again on the same state dir (as after a reboot).</summary>
    public async Task RestartAsync()
    {
        Http.Dispose();
        await Thawd.DisposeAsync();
        await StartThawdAsync();
    }

    /// <summary>A function directory: thaw.toml and code files.</summary>
    public string FunctionDir(string toml, params (string Name, string Text)[] files)
    {
        string dir = TestInstance.NewTempDir("thaw-test-fn-");
        _dirs.Add(dir);
        File.WriteAllText(Path.Combine(dir, "thaw.toml"), toml);
        foreach (var (name, text) in files)
            File.WriteAllText(Path.Combine(dir, name), text.Replace("\r", "", StringComparison.Ordinal));
        return dir;
    }

    /// <summary>A .tar.gz of a directory's contents, as `thaw deploy` sends it.</summary>
    public static byte[] TarGz(string dir)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new GZipStream(buffer, CompressionLevel.Fastest, leaveOpen: true))
            TarFile.CreateFromDirectory(dir, gzip, includeBaseDirectory: false);
        return buffer.ToArray();
    }

    public Task<HttpResponseMessage> DeployAsync(string name, byte[] archive)
    {
        var content = new ByteArrayContent(archive);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/gzip");
        return Http.PutAsync($"v1/functions/{name}", content);
    }

    /// <summary>Deploys and fails the test with the reply's body when the deploy was refused.</summary>
    public async Task DeployOkAsync(string name, string toml, params (string Name, string Text)[] files)
    {
        using var reply = await DeployAsync(name, TarGz(FunctionDir(toml, files)));
        string body = await reply.Content.ReadAsStringAsync();
        Assert.True(reply.IsSuccessStatusCode, $"deploy of {name} failed: {(int)reply.StatusCode} {body}");
    }

    public Task<HttpResponseMessage> InvokeAsync(string name, string json) =>
        Http.PostAsync($"v1/functions/{name}/invoke", new StringContent(json, System.Text.Encoding.UTF8, "application/json"));

    public async ValueTask DisposeAsync()
    {
        Http?.Dispose();
        if (Thawd is not null)
            await Thawd.DisposeAsync();
        Assert.Empty(LeakCensus.MountsUnder(_instance.Naming.StateDir));
        Assert.Empty(LeakCensus.LinksStartingWith(_instance.Naming.Name));
        Assert.DoesNotContain(CgroupHierarchy.Detect().MountPaths, m => Directory.Exists(Path.Combine(m, _instance.Naming.Name)));
        foreach (var dir in _dirs)
            Directory.Delete(dir, recursive: true);
        _instance.Dispose();
    }
}
