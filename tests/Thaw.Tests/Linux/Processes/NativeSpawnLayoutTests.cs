using Thaw.Linux.Processes;
using Thaw.Sandboxes.Zygotes;

namespace Thaw.Tests.Linux.Processes;

/// <summary>
/// struct thaw_spawn lives in C (src/native/thaw-spawn.c) with mirrors in C# (NativeSpawn) and Python
/// (zygote.py's ThawSpawn, checked by tests/python): a field added to one and not the others would
/// pass garbage to the child. The C library reports its layout; the mirrors must match it.
/// </summary>
public sealed class NativeSpawnLayoutTests
{
    [Fact]
    public void The_managed_struct_has_the_C_structs_size_and_offsets()
    {
        NativeSpawn.Load(new ZygoteOptions().NativePath);
        Assert.Equal(NativeSpawn.NativeLayout(), NativeSpawn.ManagedLayout());
    }
}
