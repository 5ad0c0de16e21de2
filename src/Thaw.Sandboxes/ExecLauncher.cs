using System.Collections.Concurrent;
using System.Text;
using Thaw.Linux;
using Thaw.Linux.Files;
using Thaw.Linux.Processes;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Sandboxes;

/// <summary>
/// The exec runtime's path when thawd is the sandboxes' parent (<see cref="SpawnVia.Thawd"/>):
/// libthawspawn's vfork-style clone runs in thawd itself (<see cref="NativeSpawn"/>), so a start is
/// no round trip to the zygote, clones run on any thread in parallel instead of one after another
/// in the zygote, and the exit is reaped by thawd's own <see cref="ChildReaper"/> (one thread woken)
/// instead of the zygote's SIGCHLD, its Python and a message back. The sandbox still gets the
/// zygote's small mount namespace to copy (<c>setns</c> first), not thawd's large one.
/// </summary>
internal sealed class ExecLauncher : ISandboxParent, IDisposable
{
    private readonly ChildReaper _reaper;
    private readonly ConcurrentDictionary<string, SafeFd> _pidfds = new();

    /// <param name="nativePath">libthawspawn.</param>
    /// <param name="failed">Hears what handling a sandbox's exit threw on the reaper's thread.</param>
    public ExecLauncher(string nativePath, Action<Exception> failed)
    {
        NativeSpawn.Load(nativePath);
        _reaper = new ChildReaper("thaw-reaper", failed);
    }

    /// <summary>
    /// Clones the sandbox and waits until it has exec'd its program (or failed before); its start
    /// and exit go to <paramref name="events"/> (the exit on the reaper's thread). Returns its pid.
    /// </summary>
    public int Launch(string id, NativeSpawnRequest request, IZygoteEvents events)
    {
        var (statusRead, statusWrite) = FileDescriptors.Pipe();
        int pid;
        SafeFd pidfd;
        using (statusRead)
        {
            using (statusWrite)
                (pid, pidfd) = NativeSpawn.Spawn(request, statusWrite);
            // The vfork returned: the child has exec'd (its status write end closed with it) or died.
            string status = Encoding.UTF8.GetString(FileDescriptors.ReadToEnd(statusRead));
            string? error = status.Split('\n').FirstOrDefault(l => l.StartsWith("error ", StringComparison.Ordinal))?["error ".Length..];
            _pidfds[id] = pidfd;
            _reaper.Watch(pidfd, (code, signal) =>
            {
                _pidfds.TryRemove(id, out _);
                events.OnExited(code, signal, error);
            });
            if (error is null && status.StartsWith("exec", StringComparison.Ordinal))
                events.OnStarted(pid);
        }
        return pid;
    }

    public void Kill(string id, int? pid, int signal)
    {
        if (_pidfds.TryGetValue(id, out var pidfd))
            _reaper.Signal(pidfd, signal);
    }

    /// <summary>Kills and reaps every sandbox it started that still runs.</summary>
    public void Dispose() => _reaper.Dispose();
}
