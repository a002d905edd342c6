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

    public const string ImageSizeName = "--image-size";
    public const string ColorModeName = "--color-mode";
    public const string SkipBadImagesName = "--skip-bad-images";

    /// <summary>--image-size HxW for image folders; checked as it is parsed (see <see cref="DataInput.ParseImageSize"/>).</summary>
    public static Option<string?> ImageSize(string fallback = "the size all the images share; an error lists the sizes when they differ") => WithCheck(new Option<string?>(ImageSizeName)
    {
        HelpName = "HxW",
        Description = $"Image folders: resize every image (bilinear) to H×W pixels, e.g. 64x64 [default: {fallback}].",
    }, value => DataInput.ParseImageSize(value) is null ? $"must be HxW (height x width in pixels) such as 64x64, got '{value}'" : null);

    /// <summary>--color-mode grayscale|rgb for image folders.</summary>
    public static Option<string?> ColorMode(string fallback = "rgb when any image has colour, else grayscale") => WithCheck(new Option<string?>(ColorModeName)
    {
        HelpName = "grayscale|rgb",
        Description = $"Image folders: read the images as 1 channel (gray = 0.299R + 0.587G + 0.114B, transparency over white) or 3 [default: {fallback}].",
    }, value => DataInput.ParseColorMode(value) is null ? $"must be grayscale or rgb, got '{value}'" : null);

    /// <summary>--skip-bad-images for image folders.</summary>
    public static Option<bool> SkipBadImages() => new(SkipBadImagesName)
    {
        Description = "Image folders: leave out (and list) files that cannot be decoded (truncated, corrupt, not an image) instead of stopping at the first.",
    };

    /// <summary><paramref name="option"/> refusing, as it is parsed, a value for which <paramref name="problem"/> says what is wrong.</summary>
    private static Option<string?> WithCheck(Option<string?> option, Func<string, string?> problem)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count == 1 && problem(result.Tokens[0].Value) is { } message)
            {
                result.AddError(message);
            }
        });
        return option;
    }

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
