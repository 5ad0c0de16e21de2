using System.Collections.Concurrent;
using Thaw.Resources.Cgroups;
using Thaw.Sandboxes;

namespace Thaw.Runtimes.Packages;

/// <summary>
/// The install cache: every package version installed once (pip `--target`, `--no-deps`, from the
/// wheelhouse, in a sandbox of its own with limits and no network) into its own directory, and
/// shared read-only by every sandbox that needs it (the cache is bound at /packages; a function's
/// sys.path gets /packages/NAME-VERSION for each package of its closure). The base image's
/// packages are used as they are. A version is installed into a staging dir and renamed into place,
/// so a directory in the cache is always a complete install; a crash leaves only staging dirs,
/// removed at the next start.
/// </summary>
public sealed class InstallCache
{
    public const string SandboxMount = "/packages";
    private const string Staging = ".staging-";
    private readonly SandboxSpawner _spawner;
    private readonly InstallCacheOptions _options;
    private readonly ConcurrentDictionary<string, Lazy<Task>> _installs = new();
    private static readonly Lazy<HttpClient> Http = new(() => new HttpClient { Timeout = TimeSpan.FromSeconds(60) });
    private int _installed;

    public InstallCache(SandboxSpawner spawner, InstallCacheOptions options)
    {
        _spawner = spawner;
        _options = options;
        Directory.CreateDirectory(options.Root);
        foreach (var stale in Directory.EnumerateDirectories(options.Root, Staging + "*"))
            Directory.Delete(stale, recursive: true);
        foreach (var partial in Directory.Exists(Path.Combine(options.Root, ".downloads")) ? Directory.EnumerateFiles(Path.Combine(options.Root, ".downloads"), "*.part") : [])
            File.Delete(partial);
    }

    public string Root => _options.Root;

    /// <summary>How many package versions this cache installed (each exactly once).</summary>
    public int Installed => Volatile.Read(ref _installed);

    /// <summary>
    /// Resolves <paramref name="requirements"/> (the function's, then their metadata's) and installs
    /// what is missing; returns the closure. Throws <see cref="PackageResolutionException"/> for a
    /// package that does not exist, no fitting version or a conflict, and
    /// <see cref="PackageInstallException"/> when an install fails; nothing half-installed stays.
    /// </summary>
    public async Task<IReadOnlyList<Distribution>> EnsureAsync(IReadOnlyList<string> requirements, string requestedBy)
    {
        if (requirements.Count == 0)
            return [];
        var remote = _options.IndexUrl is { } url ? new SimpleIndex(url, Path.Combine(_options.Root, ".downloads"), Http.Value) : null;
        var index = PackageIndex.Load(_options.Wheelhouse, _options.SystemPackages, remote);
        var closure = PackageResolver.Resolve(requirements, index, requestedBy);
        // One install per version, also when several functions ask at once.
        await Task.WhenAll(closure.Where(d => !d.IsSystem).Select(d => _installs.GetOrAdd(d.DirName, _ => new Lazy<Task>(() => InstallAsync(d))).Value)).ConfigureAwait(false);
        return closure;
    }

    /// <summary>The sys.path entries inside a sandbox for a resolved closure (installed packages only).</summary>
    public static IReadOnlyList<string> SandboxPaths(IEnumerable<Distribution> closure) =>
        [.. closure.Where(d => !d.IsSystem).Select(d => $"{SandboxMount}/{d.DirName}")];

    private async Task InstallAsync(Distribution d)
    {
        string target = Path.Combine(_options.Root, d.DirName);
        if (Directory.Exists(target))
            return;
        string staging = Path.Combine(_options.Root, Staging + d.DirName + "-" + Guid.NewGuid().ToString("N")[..8]);
        try
        {
            Directory.CreateDirectory(Path.Combine(staging, "out"));
            string wheel = Path.Combine(staging, Path.GetFileName(d.WheelPath!));
            File.Copy(d.WheelPath!, wheel);
            foreach (var path in new[] { staging, Path.Combine(staging, "out"), wheel })
                Chown(path);
            var sandbox = await _spawner.RunAsync(new SandboxSpec
            {
                // Compiled at install (pip's default): /packages is read-only, so a .pyc not written
                // now would be compiled again by every sandbox that imports the package.
                Argv = ["/usr/bin/python3", "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir", "--disable-pip-version-check",
                    "--target", "/handler/out", "/handler/" + Path.GetFileName(wheel)],
                CodeDir = staging,
                CodeWritable = true,
                Limits = new CgroupLimits(_options.InstallMemoryBytes, 1.0, 64),
                Timeout = _options.InstallTimeout,
                Environment = new Dictionary<string, string> { ["PATH"] = "/usr/bin:/bin", ["HOME"] = "/tmp", ["LANG"] = "C.UTF-8" },
                Hostname = "thaw-install",
            }).ConfigureAwait(false);
            var exit = await sandbox.Exited.ConfigureAwait(false);
            if (exit.ExitCode != 0)
            {
                string why = sandbox.Stderr.ToString().Trim();
                throw new PackageInstallException($"installing {d} failed ({exit}): {(why.Length > 2000 ? why[^2000..] : why)}");
            }
            // Back to root before it goes into place: nobody may change an installed package, not
            // even a process of the installer's uid outside a sandbox.
            string output = Path.Combine(staging, "out");
            foreach (var entry in Directory.EnumerateFileSystemEntries(output, "*", SearchOption.AllDirectories).Append(output))
                Thaw.Linux.Files.Owner.Set(entry, 0, 0);
            Directory.Move(output, target);
            Interlocked.Increment(ref _installed);
        }
        catch
        {
            // A failed install leaves nothing; the next request for it tries again.
            _installs.TryRemove(d.DirName, out _);
            throw;
        }
        finally
        {
            if (Directory.Exists(staging))
                Directory.Delete(staging, recursive: true);
        }
    }

    // The installer runs as the sandboxes' uid (65534): it may write its staging dir, nothing else.
    private static void Chown(string path) => Thaw.Linux.Files.Owner.Set(path, 65534, 65534);
}

/// <summary>A package version could not be installed; the message carries the installer's error.</summary>
public sealed class PackageInstallException(string message) : Exception(message);
