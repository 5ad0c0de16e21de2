using Microsoft.Extensions.Logging.Abstractions;
using Thaw.Resources;

namespace Thaw.Tests.Support;

/// <summary>
/// A uniquely named Thaw instance for one test class: its own name prefix, state dir, bridge and
/// cgroup dir, so test classes run in parallel without touching each other's kernel objects.
/// </summary>
public sealed class TestInstance : IDisposable
{
    public TestInstance(string prefix = "thawt")
    {
        string suffix = Convert.ToHexString(BitConverter.GetBytes(Random.Shared.Next()))[..(ThawNaming.MaxNameLength - prefix.Length)].ToLowerInvariant();
        Naming = new ThawNaming(prefix + suffix, Path.Combine(Path.GetTempPath(), "thaw-test-" + prefix + suffix));
        Directory.CreateDirectory(Naming.StateDir);
    }

    public ThawNaming Naming { get; }

    public static NullLogger Logger => NullLogger.Instance;

    /// <summary>A random /24 in 10.214–10.253.x.0 for bridge tests; checked for overlap by the pool itself.</summary>
    public static string RandomSubnet() => $"10.{Random.Shared.Next(214, 254)}.{Random.Shared.Next(0, 256)}.0/24";

    /// <summary>A naming of its own for tests that manage their state dir themselves.</summary>
    public static ThawNaming NewNaming(string prefix = "thawr") => new(
        prefix + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..(ThawNaming.MaxNameLength - prefix.Length)],
        "/tmp/thaw-test-" + Guid.NewGuid().ToString("N")[..12]);

    public static string NewTempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The errno of a failed .NET file operation (its IOException carries it as HResult on Unix).</summary>
    public static int Errno(Exception e) => e.HResult;

    public void Dispose()
    {
        if (Directory.Exists(Naming.StateDir) && LeakCensus.MountsUnder(Naming.StateDir).Count == 0)
            Directory.Delete(Naming.StateDir, recursive: true);
    }
}
