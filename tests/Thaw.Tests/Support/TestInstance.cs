using Thaw.Resources;

namespace Thaw.Tests.Support;

/// <summary>A Thaw instance of its own (name and state dir) so test classes can run side by side.</summary>
internal static class TestInstance
{
    public static ThawNaming NewNaming() => new(
        "thawr" + Convert.ToHexStringLower(Guid.NewGuid().ToByteArray())[..3],
        "/tmp/thaw-test-" + Guid.NewGuid().ToString("N")[..12]);

    public static string NewTempDir(string prefix)
    {
        var dir = Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    /// <summary>The errno of a failed .NET file operation (its IOException carries it as HResult on Unix).</summary>
    public static int Errno(Exception e) => e.HResult;
}
