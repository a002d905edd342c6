using System.CommandLine;
using Convnet.Models;
using Convnet.Tensors;
using Convnet.Architecture;
using Convnet.Layers;

namespace Convnet.Cli.Commands;

/// <summary>Options several commands share, each created fresh per command.</summary>
internal static class Options
{
    public static Option<string> Model(string description = "Model file (safetensors): one model, or an ensemble from train --ensemble.") => new("--model", "-m")
    {
        Description = description,
        DefaultValueFactory = _ => "model.safetensors",
    };

    public const string ThreadsName = "--threads";

    public static Option<int> Threads() => new(ThreadsName, "-t")
    {
        Description = "Worker threads (0 = one per core; more than the cores are capped to them). Results do not depend on it.",
        DefaultValueFactory = _ => 0,
    };

    public static Option<int> Tta() => new("--tta")
    {
        HelpName = "VIEWS",
        Description = $"Test-time augmentation: average the model's probabilities over this many views of each image, 1 (off) to {TestTimeAugmentation.MaxViews}: "
            + string.Join(", ", TestTimeAugmentation.AllViews.Select(v => v.Name)) + ", in that order. Costs VIEWS times the inference.",
        DefaultValueFactory = _ => 1,
    };

    /// <summary>The classifier itself for 1 view, else it wrapped in test-time augmentation (which then owns it).</summary>
    public static IClassifier WithTta(IClassifier net, int views)
    {
        if (views < 1 || views > TestTimeAugmentation.MaxViews)
        {
            net.Dispose();
            throw new UserError($"--tta must be in [1, {TestTimeAugmentation.MaxViews}], got {views}");
        }
        if (views > 1 && !net.InputShape.IsImage)
        {
            net.Dispose();
            throw new UserError($"--tta needs a model that takes images, not {net.InputShape}");
        }
        return views == 1 ? net : new TestTimeAugmentation(net, views, ownsInner: true);
    }

    /// <summary>--threads as given, capped to the core count (more threads only wait for each other; the caller notes it).</summary>
    public static int CheckThreads(int threads) => threads >= 0
        ? Math.Min(threads, Environment.ProcessorCount)
        : throw new UserError($"--threads must be 0 (one per core) or positive, got {threads}");

    /// <summary>What --arch accepts, for help texts.</summary>
    public static string ArchHelp =>
        $"Recipe name ({string.Join(", ", Architectures.Recipes.Select(r => $"'{r.Name}' = {r.Description}"))}), "
        + $"a layer spec such as 'conv32k3-bn-relu,maxpool2,flatten,dense128-relu' (tokens: {string.Join(", ", LayerRegistry.Kinds.Select(k => k.TokenForm))}; "
        + "dense<classes> and softmax are appended when missing), "
        + "or a .json file holding the layer list a model file keeps as 'architecture'.";

    /// <summary>Checks an --arch value's recipe name, spec syntax or JSON file without building it.</summary>
    public static void CheckArch(string arch)
    {
        CheckArchFile(arch);
        try
        {
            Architectures.Describe(arch);
        }
        catch (ArchitectureSpecException e)
        {
            throw ArchError(arch, e);
        }
    }

    /// <summary><see cref="Architectures.Create"/> with spec errors as user errors.</summary>
    public static Sequential CreateArch(string arch, Shape input, int classes, ulong seed, int threads)
    {
        CheckArchFile(arch);
        try
        {
            return Architectures.Create(arch, input, classes, seed, threads);
        }
        catch (ArchitectureSpecException e)
        {
            throw ArchError(arch, e);
        }
    }

    /// <summary>
    /// An --arch that names a file (it holds a path separator or ends in an extension such as
    /// .json) must exist: otherwise the spec parser would call it an unknown layer.
    /// </summary>
    private static void CheckArchFile(string arch)
    {
        bool path = arch.Contains('/') || arch.Contains(Path.DirectorySeparatorChar) || HasExtension(arch);
        if (path && Directory.Exists(arch))
        {
            throw new UserError($"--arch '{arch}' is a folder, not an architecture file");
        }
        if (path && !File.Exists(arch))
        {
            throw new UserError($"--arch file '{arch}' not found");
        }
    }

    // "net.json", "spec.txt": a dot then letters at the end ("drop0.5" ends in a digit).
    private static bool HasExtension(string arch)
    {
        int dot = arch.LastIndexOf('.');
        return dot > 0 && dot < arch.Length - 1 && char.IsAsciiLetter(arch[dot + 1]) && arch[(dot + 1)..].All(char.IsAsciiLetterOrDigit);
    }

    public static UserError ArchError(string arch, ArchitectureSpecException e)
    {
        // A single word that is no layer: most likely a mistyped recipe name.
        bool word = arch.Length > 0 && arch.All(char.IsAsciiLetter) && e.TokenNumber == 1;
        return word
            ? new UserError($"unknown --arch '{arch}'; known: {string.Join(", ", Architectures.Names)}, or a layer spec or .json file (see --help)")
            : new UserError($"--arch: {e.Message}{(e.InnerException is ModelTooLargeException { AboveLimit: true } ? $"\n  (raise the limit with {Cli.MemoryLimitName})" : "")}");
    }
}
