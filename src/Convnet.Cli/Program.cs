using System.Runtime.InteropServices;

namespace Convnet.Cli;

public static class Program
{
    /// <summary>
    /// Ctrl-C (SIGINT) and SIGTERM cancel the command instead of killing the process, so that it can
    /// say what it kept (and, with train --backup, where to resume from) and exit 130; a second
    /// signal while it winds down still kills it.
    /// </summary>
    public static int Main(string[] args)
    {
        using var cancellation = new CancellationTokenSource();
        void Cancel(PosixSignalContext context)
        {
            if (!cancellation.IsCancellationRequested)
            {
                context.Cancel = true;
                cancellation.Cancel();
            }
        }
        using var interrupt = PosixSignalRegistration.Create(PosixSignal.SIGINT, Cancel);
        using var terminate = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Cancel);
        return Cli.Run(args, Console.Out, Console.Error, cancellation.Token);
    }
}
