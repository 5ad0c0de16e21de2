using Microsoft.Extensions.Logging;
using Thaw.Linux;
using Thaw.Linux.Mounts;
using Thaw.Resources.Pooling;

namespace Thaw.Resources.Roots;

/// <summary>
/// The pool of sandbox roots. A claim pops a pre-built root and binds the function's code into it
/// (one bind mount on the request path); a release hands it back to be scrubbed off the request path.
/// </summary>
public sealed partial class RootPool : IDisposable
{
    private const int ENOENT = 2;
    private readonly ThawNaming _naming;

    public RootPool(ThawNaming naming, RootPoolOptions options, ILogger logger)
    {
        options.Validate();
        _naming = naming;
        // The instance name is unique per host, so anything already here is ours from a run that died.
        int swept = RootRecovery.Sweep(naming);
        if (swept > 0)
            Log.SweptLeftovers(logger, swept, naming.RootsDir);
        try
        {
            Directory.CreateDirectory(naming.RootsDir);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"cannot create the roots dir '{naming.RootsDir}': is the state dir '{naming.StateDir}' writable? {e.Message}", e);
        }
        // Every root mount lives under this private mount: on a host whose / is shared they would
        // otherwise propagate into peer namespaces (and their unmounts would propagate back).
        Mounts.MakePrivateMountPoint(naming.RootsDir);
        try
        {
            Pool = new ResourcePool<SandboxRoot>("roots", new RootFactory(naming.RootsDir, options), options.Size, logger);
        }
        catch
        {
            RootRecovery.Sweep(naming);
            throw;
        }
    }

    public ResourcePool<SandboxRoot> Pool { get; }

    /// <summary>
    /// Takes a root with <paramref name="codeDir"/> bound read-only at /handler (if given; /handler
    /// stays an empty dir otherwise) and, if given, <paramref name="packagesDir"/> read-only at
    /// /packages. <paramref name="writableCode"/> binds the code dir writable instead (the install
    /// cache's installer writes its output there). A dir that cannot be bound gives the root back.
    /// </summary>
    public SandboxRoot Claim(string? codeDir, string? packagesDir = null, bool writableCode = false)
    {
        var root = Pool.Claim();
        try
        {
            if (codeDir is not null)
                Bind("code", codeDir, root.HandlerDir, readOnly: !writableCode);
            if (packagesDir is not null)
                Bind("packages", packagesDir, root.PackagesDir);
            root.CodeDir = codeDir;
            return root;
        }
        catch
        {
            // The recycle worker unmounts whatever half got bound.
            Pool.Release(root);
            throw;
        }
    }

    public void Release(SandboxRoot root) => Pool.Release(root);

    public PoolStats Stats() => Pool.Stats();

    private static void Bind(string kind, string source, string target, bool readOnly = true)
    {
        try
        {
            Mounts.Bind(Path.GetFullPath(source), target, readOnly);
        }
        catch (LinuxException e) when (e.Errno == ENOENT)
        {
            throw new DirectoryNotFoundException($"{kind} dir '{source}' does not exist", e);
        }
        catch (LinuxException e)
        {
            throw new IOException($"cannot bind {kind} dir '{source}' at {target}: {e.Message}", e);
        }
    }

    /// <summary>Destroys every root, idle or claimed, and removes the roots dir and its private mount.</summary>
    public void Dispose()
    {
        Pool.Dispose();
        RootRecovery.Sweep(_naming);
    }
}
