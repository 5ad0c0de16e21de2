using System.Diagnostics;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Thaw.Resources;
using Thaw.Resources.Cgroups;
using Thaw.Resources.Netns;
using Thaw.Resources.Roots;

namespace Thaw.Sandboxes.Zygotes;

/// <summary>
/// A running zygote: the python3 process, the lean sandbox it lives in (its own cgroup, an empty
/// network namespace, a root whose /handler holds only the zygote folder) and thawd's connection to
/// it. The only process thawd starts itself; every sandbox is forked or spawned by a zygote.
/// </summary>
public sealed partial class Zygote : IDisposable
{
    private const string SocketName = "zygote.sock";

    private readonly ResourceHost _host;
    private readonly ILogger _logger;
    private readonly Process _process;
    private readonly PooledNetns _netns;
    private readonly SandboxCgroup _cgroup;
    private readonly SandboxRoot _root;
    private int _disposed;

    private Zygote(ResourceHost host, ILogger logger, Process process, PooledNetns netns, SandboxCgroup cgroup, SandboxRoot root, ZygoteConnection connection)
    {
        _host = host;
        _logger = logger;
        _process = process;
        _netns = netns;
        _cgroup = cgroup;
        _root = root;
        Connection = connection;
        Pid = process.Id;
        connection.Closed += OnClosed;
    }

    public int Pid { get; }

    /// <summary>False once the zygote died or was disposed: a new one must be started.</summary>
    public bool IsAlive => Connection.IsOpen && Volatile.Read(ref _disposed) == 0;

    /// <summary>Raised (on the connection's thread) when the zygote dies without being disposed.</summary>
    public event Action<Zygote>? Crashed;

    internal ZygoteConnection Connection { get; }

    /// <summary>The zygote's cgroup (to measure its memory, or kill it in tests).</summary>
    public SandboxCgroup Cgroup => _cgroup;

    /// <summary>Claims the zygote's sandbox from the pools, starts python3 in it and connects.</summary>
    public static Zygote Start(ResourceHost host, ZygoteOptions options, ILogger logger)
    {
        options.Validate();
        var netns = host.Netns.Claim();
        SandboxCgroup? cgroup = null;
        SandboxRoot? root = null;
        Process? process = null;
        try
        {
            cgroup = host.Cgroups.Claim();
            root = host.Roots.Claim(options.Directory);
            // Loaded before the zygote chroots, so the host path.
            string? native = File.Exists(options.NativePath) ? options.NativePath : null;
            var config = new ZygoteConfig("/host/" + SocketName, root.Path, netns.Path, cgroup.ProcsFiles, native);
            var psi = new ProcessStartInfo(options.Python)
            {
                // -I: no user site or PYTHON* variables; -S: no site import (faster, nothing to find).
                ArgumentList = { "-I", "-S", options.ScriptPath, JsonSerializer.Serialize(config, ZygoteConfigJson.Default.ZygoteConfig) },
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                RedirectStandardInput = true,
                UseShellExecute = false,
            };
            process = Process.Start(psi) ?? throw new ZygoteException($"cannot start {options.Python}");
            ForwardStderr(process, logger);
            WaitUntilReady(process, options.StartTimeout);
            var connection = ZygoteConnection.Connect(Path.Combine(root.HostDir, SocketName), $"zygote-{process.Id}");
            var zygote = new Zygote(host, logger, process, netns, cgroup, root, connection);
            Log.Started(logger, zygote.Pid, native is not null);
            return zygote;
        }
        catch
        {
            if (process is not null)
            {
                try { process.Kill(); } catch (InvalidOperationException) { }
                process.WaitForExit(5000);
                process.Dispose();
            }
            if (root is not null) host.Roots.Release(root);
            if (cgroup is not null) host.Cgroups.Release(cgroup);
            host.Netns.Release(netns);
            throw;
        }
    }

    private static void WaitUntilReady(Process process, TimeSpan timeout)
    {
        var line = process.StandardOutput.ReadLineAsync();
        if (!line.Wait(timeout))
            throw new ZygoteException($"the zygote did not get ready within {timeout.TotalSeconds:0.#} s");
        if (line.Result is not { } ready || !ready.StartsWith("ready ", StringComparison.Ordinal))
        {
            process.WaitForExit(2000);
            string code = process.HasExited ? $" (exit code {process.ExitCode})" : "";
            throw new ZygoteException($"the zygote failed to start{code}; its stderr is in thawd's log");
        }
    }

    private static void ForwardStderr(Process process, ILogger logger)
    {
        int pid = process.Id;
        process.ErrorDataReceived += (_, e) =>
        {
            if (!string.IsNullOrEmpty(e.Data))
                Log.Stderr(logger, pid, e.Data);
        };
        process.BeginErrorReadLine();
    }

    private void OnClosed()
    {
        if (Volatile.Read(ref _disposed) != 0)
            return;
        Log.Crashed(_logger, Pid);
        Crashed?.Invoke(this);
        // Off the reader thread: the release waits for the process.
        ThreadPool.QueueUserWorkItem(_ => Dispose());
    }

    /// <summary>Closes the connection (the zygote then kills its sandboxes and exits) and returns its resources.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
            return;
        Connection.Dispose();
        if (!_process.WaitForExit(5000))
        {
            try { _process.Kill(); } catch (InvalidOperationException) { }
            _process.WaitForExit(5000);
        }
        _process.Dispose();
        // The cgroup release kills anything left in it; the root and netns are recycled.
        _host.Cgroups.Release(_cgroup);
        _host.Roots.Release(_root);
        _host.Netns.Release(_netns);
    }
}
