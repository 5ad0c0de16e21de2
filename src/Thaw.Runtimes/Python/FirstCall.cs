namespace Thaw.Runtimes.Python;

/// <summary>
/// The call a sandbox is being started for, sent down its invoke socket right after the spawn,
/// ahead of the ready frame: the runtime finds it waiting once its handler loaded and answers at
/// once, so a cold call pays no round trip between "ready" and "invoke" (on this VM each wake-up of
/// an idle process costs ~0.2–0.4 ms). <see cref="PythonSandbox.InvokeAsync"/> with the same event
/// then only reads the reply.
/// </summary>
public sealed record FirstCall(ReadOnlyMemory<byte> Event, TimeSpan Timeout);
