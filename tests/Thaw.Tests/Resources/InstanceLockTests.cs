using Thaw.Resources;
using Thaw.Tests.Support;

namespace Thaw.Tests.Resources;

/// <summary>Two live instances may share neither a name (host-wide kernel objects) nor a state dir.</summary>
public sealed class InstanceLockTests : IDisposable
{
    private readonly ThawNaming _naming = TestInstance.NewNaming("thawt");
    private readonly string _otherDir = TestInstance.NewTempDir("thaw-test-lock-");

    public InstanceLockTests() => Directory.CreateDirectory(_naming.StateDir);

    [Fact]
    public void Same_name_with_another_state_dir_is_refused_and_names_the_holder()
    {
        using var first = InstanceLock.Acquire(_naming);
        var error = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(new ThawNaming(_naming.Name, _otherDir)));
        Assert.Contains($"instance name '{_naming.Name}'", error.Message, StringComparison.Ordinal);
        Assert.Contains(Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Same_state_dir_with_another_name_is_refused()
    {
        using var first = InstanceLock.Acquire(_naming);
        var other = TestInstance.NewNaming("thawt");
        var error = Assert.Throws<InstanceLockedException>(() => InstanceLock.Acquire(new ThawNaming(other.Name, _naming.StateDir)));
        Assert.Contains("state dir", error.Message, StringComparison.Ordinal);
        // The name lock taken before the state dir was refused is given back.
        using var again = InstanceLock.Acquire(new ThawNaming(other.Name, _otherDir));
    }

    [Fact]
    public void Released_lock_can_be_taken_again()
    {
        InstanceLock.Acquire(_naming).Dispose();
        using var second = InstanceLock.Acquire(_naming);
    }

    public void Dispose()
    {
        Directory.Delete(_naming.StateDir, recursive: true);
        Directory.Delete(_otherDir, recursive: true);
        Assert.False(File.Exists(Path.Combine(InstanceLock.NamesDir, _naming.Name + ".lock")), "a released name lock removes its file");
    }
}
