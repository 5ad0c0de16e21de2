namespace Thaw.Linux.Seccomp;

/// <summary>
/// One rule of a deny-by-name filter: the syscall fails with <see cref="Errno"/> instead of
/// running, always, or only when its argument <see cref="ArgIndex"/> has every bit of
/// <see cref="ArgBits"/> set (clone's namespace flags, personality's unsafe ones).
/// </summary>
public sealed record SeccompRule(string Syscall, int Errno, int? ArgIndex = null, ulong ArgBits = 0)
{
    public const int EPERM = 1;
    public const int ENOSYS = 38;

    public static SeccompRule Deny(string syscall) => new(syscall, EPERM);

    /// <summary>For a syscall libc falls back from when the kernel lacks it (clone3 → clone).</summary>
    public static SeccompRule NotImplemented(string syscall) => new(syscall, ENOSYS);

    public static SeccompRule DenyWhenBits(string syscall, int argIndex, ulong bits) => new(syscall, EPERM, argIndex, bits);
}
