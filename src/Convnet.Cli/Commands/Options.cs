using System.CommandLine;

namespace Convnet.Cli.Commands;

/// <summary>Options several commands share, each created fresh per command.</summary>
internal static class Options
{
    public static Option<string> Model(string description = "Model file (safetensors).") => new("--model", "-m")
    {
        Description = description,
        DefaultValueFactory = _ => "model.safetensors",
    };

    public static Option<int> Threads() => new("--threads", "-t")
    {
        Description = "Worker threads (0 = one per core). Results do not depend on it.",
        DefaultValueFactory = _ => 0,
    };

    public static int CheckThreads(int threads) => threads >= 0
        ? threads
        : throw new UserError($"--threads must be 0 (one per core) or positive, got {threads}");
}
