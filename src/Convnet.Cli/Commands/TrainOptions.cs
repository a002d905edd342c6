using System.CommandLine;
using System.Globalization;
using Convnet.Architecture;
using Convnet.Cli.Visualization;
using Convnet.Data;
using Convnet.Optimizers;
using Convnet.Training;

using Convnet.Images;
using Convnet.IO;
using Convnet.Models;
using Convnet.Saving;

namespace Convnet.Cli.Commands;

/// <summary>What <c>convnet train</c> was asked: the library's training settings and what only the command line does with them.</summary>
internal sealed record TrainRequest(TrainingSettings Settings, string DataPath, string ModelPath)
{
    /// <summary>Without --arch: the same request with another default recipe (chosen by the data's size); null when --arch was given.</summary>
    public Func<Recipe, TrainRequest>? WithDefaultRecipe { get; init; }

    /// <summary>How to read DataPath when it is an image folder.</summary>
    public ImageFolderOptions Images { get; init; } = new();

    /// <summary>PNG of the training curves, or null.</summary>
    public string? PlotPath { get; init; }

    /// <summary>CSV of the per-epoch history, or null.</summary>
    public string? HistoryPath { get; init; }

    /// <summary>Members to train (member k with seed + k); 1 is a single model.</summary>
    public int Ensemble { get; init; } = 1;

    /// <summary>Members trained at the same time, sharing the threads; 0 for one per thread.</summary>
    public int ParallelMembers { get; init; }

    /// <summary>--arch as given.</summary>
    public string Arch => Settings.Architecture;
}

/// <summary>
/// The options of <c>convnet train</c>: declared, merged with the recipe's defaults (an option given
/// wins; one left out takes the recipe's), and checked with messages that name the option.
/// </summary>
internal sealed class TrainOptions
{
    private readonly Argument<string> _data = new Argument<string>("DATA")
    {
        Description = "The labelled images: a Kaggle-format CSV (header label,pixel0..pixel783, or label,pixel0..pixel{N-1} (or pixel1..pixelN) for square grayscale images of N pixels; labels are numbers 0-255, or class names), "
            + "or a folder with one subfolder of images per class (PNG, JPEG, BMP, GIF, WebP; the subfolder names are the class names; see --image-size, --color-mode, --skip-bad-images).",
        DefaultValueFactory = _ => "data/train.csv",
    };
    private readonly Option<string> _model = Options.Model("Where to write the trained model (written to a temporary file, then renamed).");
    private readonly Option<string> _arch = new Option<string>("--arch")
    {
        HelpName = "NAME|SPEC|FILE.json",
        Description = $"Architecture. {Options.ArchHelp} A recipe brings its own defaults for --epochs, --batch-size, --lr, --lr-schedule, --augment and --ema; specs and files take the default recipe's ({Architectures.Default.Name}). Without --arch: {Architectures.Default.Name}, or {Architectures.Simple.Name} for images too small for it (under 18×18).",
        DefaultValueFactory = _ => Architectures.Default.Name,
    };
    private readonly Option<string?> _from = new Option<string?>("--from")
    {
        HelpName = "MODEL",
        Description = "Start from the layers and weights of MODEL, a model file trained here or written by 'convnet import' (one model, not an ensemble), to fine-tune it: "
            + "with as many classes as the data, every layer's weights; with another count, every layer's but the last Dense, initialised from --seed (the output says so). "
            + $"Its images must be the data's size and channels. --arch may be left out (else it must name the same layers); settings not given are the recipe's that --arch names, else the default recipe's ({Architectures.Default.Name}).",
    };
    private readonly Option<int?> _epochs = new Option<int?>("--epochs", "-e") { Description = $"Passes over the training data [default: the recipe's; {PerRecipe(r => r.Epochs.ToString(CultureInfo.InvariantCulture))}]." };
    private readonly Option<int?> _batchSize = new Option<int?>("--batch-size", "-b") { Description = $"Images per optimisation step [default: the recipe's; {PerRecipe(r => r.BatchSize.ToString(CultureInfo.InvariantCulture))}]." };
    private readonly Option<float?> _lr = new Option<float?>("--lr") { Description = $"Learning rate (of the first epoch; the peak for onecycle) [default: the recipe's; {PerRecipe(r => r.LearningRate.ToString(CultureInfo.InvariantCulture))}]." };
    private readonly Option<string?> _schedule = new Option<string?>("--lr-schedule")
    {
        HelpName = "constant|cosine|exponential[:RATE]|onecycle",
        Description = "Learning rate per epoch: 'cosine' (lr·½(1 + cos(π·epoch/epochs)), falling towards 0), 'constant', "
            + $"'exponential[:RATE]' (lr·RATE^epoch, RATE in (0, 1], {RateSchedule.DefaultExponentialRate.ToString(CultureInfo.InvariantCulture)} when left out), or per step "
            + $"'onecycle' (from lr/25 up to lr over the first 30% of steps, then down to lr/250000) [default: the recipe's; {PerRecipe(r => r.Schedule.ToString())}].",
    };
    private readonly Option<double> _validationSplit = new Option<double>("--validation-split")
    {
        Description = "Fraction of each class held out for validation (stratified); 0 disables.",
        DefaultValueFactory = _ => 0.1,
    };
    private readonly Option<ulong> _seed = new Option<ulong>("--seed") { Description = "Seeds initialisation, the split and shuffling: the same seed gives the same model bits. Member k of --ensemble uses seed + k.", DefaultValueFactory = _ => 1UL };
    private readonly Option<int> _threads = Options.Threads();
    private readonly ImageOptions _images = new();
    private readonly Option<string?> _plot = new Option<string?>("--plot")
    {
        HelpName = "PNG",
        Description = "Also draw the training curves to this PNG: loss and accuracy per epoch, training and validation (the learning rate on a second axis when it changes); of member 0 only with --ensemble.",
    };
    private readonly Option<string?> _historyCsv = new Option<string?>("--history")
    {
        HelpName = "CSV",
        Description = "Also write the per-epoch history (loss, accuracy, val_loss, val_accuracy, learning_rate, seconds) to this CSV, with a first column 'member' with --ensemble N > 1. It is always kept in the model file's metadata.",
    };
    private readonly Option<string?> _augment = new Option<string?>("--augment")
    {
        HelpName = "SPEC",
        Description = $"Random augmentation of training images, e.g. 'rotation=10,zoom=0.1,shift=0.1,shear=0' (degrees, scale ±, fraction of the size, degrees; missing keys 0), plus 'flip' to mirror half the images left to right (e.g. 'rotation=10,flip', or 'flip' alone; for data whose mirror images are the same class, not digits), or 'none' [default: the recipe's; {PerRecipe(r => r.Augmentation.ToString())}].",
    };
    private readonly Option<string> _optimizer = new Option<string>("--optimizer")
    {
        HelpName = string.Join('|', OptimizerFactory.Names),
        Description = "Optimiser: Adam, AdamW (decoupled weight decay, see --weight-decay), RMSprop or SGD (both with --momentum).",
        DefaultValueFactory = _ => "adam",
    };
    private readonly Option<float?> _weightDecay = new Option<float?>("--weight-decay") { Description = "AdamW's decoupled weight decay [default: 0.004]; only with --optimizer adamw." };
    private readonly Option<float?> _momentum = new Option<float?>("--momentum") { Description = "Momentum in [0, 1) for --optimizer sgd or rmsprop [default: 0]." };
    private readonly Option<float?> _labelSmoothing = new Option<float?>("--label-smoothing") { Description = $"Label smoothing of the cross-entropy, in [0, 1) [default: the recipe's; {PerRecipe(r => r.LabelSmoothing.ToString(CultureInfo.InvariantCulture))}]." };
    private readonly Option<float?> _clipNorm = new Option<float?>("--clip-norm") { Description = "Clip each step's gradients to this global L2 norm (positive)." };
    private readonly Option<float?> _ema = new Option<float?>("--ema")
    {
        HelpName = "MOMENTUM",
        Description = "Keep an exponential moving average of the weights, avg = μ·avg + (1 − μ)·w after step t with μ = min(MOMENTUM, (t − 1)/(t + 8)) "
            + "(Keras's use_ema, warmed up as TensorFlow's ExponentialMovingAverage), and save the averaged weights (validation during training uses the current ones, as Keras). "
            + $"MOMENTUM in [0, 1); 0 keeps no average [default: the recipe's; {PerRecipe(r => r.EmaMomentum?.ToString(CultureInfo.InvariantCulture) ?? "none")}; none with --early-stopping].",
    };
    private readonly Option<int?> _earlyStopping = new Option<int?>("--early-stopping")
    {
        HelpName = "PATIENCE",
        Description = "Stop when val_loss (loss without validation) has not improved for PATIENCE epochs, and keep the best epoch's weights.",
    };
    private readonly Option<int?> _reduceLr = new Option<int?>("--reduce-lr-on-plateau")
    {
        HelpName = "PATIENCE",
        Description = "Halve the learning rate (down to 1e-6) when val_loss (loss without validation) has not improved for PATIENCE epochs.",
    };
    private readonly Option<string?> _checkpoint = new Option<string?>("--checkpoint")
    {
        HelpName = "PATH",
        Description = "Also save the model of the best epoch by val_accuracy (accuracy without validation) to PATH, atomically, as training goes.",
    };
    private readonly Option<string?> _backup = new Option<string?>("--backup")
    {
        HelpName = "DIR",
        Description = "Keep the whole training state in DIR at the end of every epoch (one file, replaced atomically; DIR is created when missing): "
            + "run the same command again after an interruption (Ctrl-C, a crash, kill -9, power loss) and it resumes from the last finished epoch, "
            + "giving the model an uninterrupted run would, bit for bit. A backup of other settings or data is refused. Deleted once the model is saved. "
            + "With --ensemble each member keeps its own backup in DIR/member<k>, so finished members are not trained again.",
    };
    private readonly Option<int> _ensemble = new Option<int>("--ensemble")
    {
        HelpName = "N",
        Description = "Train N models (several at a time when there are threads to share, see --parallel-members), member k (from 0) with seed --seed + k for its initialisation, shuffling, dropout, augmentation "
            + "and its own stratified validation split, and save them as one model file (tensors under 'member<k>.') whose prediction is the mean "
            + "of the members' probabilities. --early-stopping and --reduce-lr-on-plateau act on each member; --checkpoint needs N = 1.",
        DefaultValueFactory = _ => 1,
    };
    private readonly Option<int> _parallelMembers = new Option<int>("--parallel-members")
    {
        HelpName = "P",
        Description = "With --ensemble N: train P members at the same time, sharing --threads between them (a member's bits do not depend on it); "
            + "0 for one member per thread. Each member in training holds its own activations, so memory grows with P.",
        DefaultValueFactory = _ => 0,
    };

    public void AddTo(Command command)
    {
        command.Arguments.Add(_data);
        Option[] options =
        [
            _model, _arch, _from, _epochs, _batchSize, _lr, _schedule, _validationSplit, _seed, _threads, _plot, _historyCsv, _augment,
            _optimizer, _weightDecay, _momentum, _labelSmoothing, _clipNorm, _ema, _earlyStopping, _reduceLr, _checkpoint, _backup, _ensemble, _parallelMembers,
        ];
        foreach (var option in options)
        {
            command.Options.Add(option);
        }
        _images.AddTo(command);
    }

    /// <summary>
    /// A recipe setting's values for help texts, recipes of equal value grouped and the default's
    /// group naming specs and files too: "8 for simple; 10 for general, specs and files; 30 for strong".
    /// </summary>
    private static string PerRecipe(Func<Recipe, string> setting) => string.Join("; ", Architectures.Recipes
        .GroupBy(setting)
        .Select(g => $"{g.Key} for {string.Join(", ", g.Select(r => r.Name))}{(g.Contains(Architectures.Default) ? ", specs and files" : "")}"));

    /// <summary>
    /// The options given, each left out taken from the recipe --arch names (the default recipe's for
    /// specs and files). Without --arch, <paramref name="defaultRecipe"/> (what the data's size chose,
    /// <see cref="Architectures.DefaultFor"/>) or else <see cref="Architectures.Default"/>.
    /// </summary>
    public TrainRequest Read(ParseResult parse, Recipe? defaultRecipe = null)
    {
        bool archGiven = parse.GetResult(_arch) is { Implicit: false };
        string? from = parse.GetValue(_from);
        string arch = archGiven ? parse.GetValue(_arch)! : (defaultRecipe ?? Architectures.Default).Name;
        var recipe = archGiven || from is null ? TrainingSettings.For(arch) with { From = from } : TrainingSettings.ForModel(from);
        var settings = recipe with
        {
            Epochs = parse.GetValue(_epochs) ?? recipe.Epochs,
            BatchSize = parse.GetValue(_batchSize) ?? recipe.BatchSize,
            LearningRate = parse.GetValue(_lr) ?? recipe.LearningRate,
            Schedule = parse.GetValue(_schedule) is { } schedule ? ParseSchedule(schedule) : recipe.Schedule,
            Augmentation = parse.GetValue(_augment) is { } augment ? ParseAugment(augment) : recipe.Augmentation,
            EmaMomentum = EmaSetting(parse.GetValue(_ema), recipe.EmaMomentum, parse.GetValue(_earlyStopping) is not null),
            ValidationSplit = parse.GetValue(_validationSplit),
            Seed = parse.GetValue(_seed),
            Threads = Options.CheckThreads(parse.GetValue(_threads)),
            Optimizer = parse.GetValue(_optimizer)!,
            WeightDecay = parse.GetValue(_weightDecay),
            Momentum = parse.GetValue(_momentum),
            LabelSmoothing = parse.GetValue(_labelSmoothing) ?? recipe.LabelSmoothing,
            ClipNorm = parse.GetValue(_clipNorm),
            EarlyStopping = parse.GetValue(_earlyStopping),
            ReduceLrOnPlateau = parse.GetValue(_reduceLr),
            CheckpointPath = parse.GetValue(_checkpoint),
            BackupDirectory = parse.GetValue(_backup),
        };
        string data = parse.GetValue(_data)!;
        return new TrainRequest(settings with { Metadata = new Dictionary<string, string> { ["train_file"] = Path.GetFileName(Path.TrimEndingDirectorySeparator(data)) } }, data, parse.GetValue(_model)!)
        {
            Images = _images.Read(parse, settings.Threads),
            WithDefaultRecipe = archGiven || from is not null ? null : recipe => Read(parse, recipe),
            PlotPath = parse.GetValue(_plot),
            HistoryPath = parse.GetValue(_historyCsv),
            Ensemble = parse.GetValue(_ensemble),
            ParallelMembers = parse.GetValue(_parallelMembers),
        };
    }

    /// <summary>
    /// The moving average's momentum: --ema's value when given (0 for none), else the recipe's unless
    /// --early-stopping asks for the best epoch's weights as trained; a bad value is checked later.
    /// </summary>
    public static float? EmaSetting(float? option, float? recipe, bool earlyStopping) => option switch
    {
        0f => null,
        { } given => given,
        null => earlyStopping ? null : recipe,
    };

    /// <summary>Reads --augment's value; a bad token is a user error that names it.</summary>
    public static Augmentation ParseAugment(string text)
    {
        try
        {
            return Augmentation.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UserError($"--augment '{text}': {e.Message}");
        }
    }

    /// <summary>Reads --lr-schedule's value; the library's message names the "schedule", the option's name replaces it.</summary>
    public static RateSchedule ParseSchedule(string text)
    {
        try
        {
            return RateSchedule.Parse(text);
        }
        catch (FormatException e)
        {
            throw new UserError($"--lr-{e.Message}");
        }
    }

    /// <summary>Checks every option and the paths to write before any data is read.</summary>
    public static void Check(TrainRequest r)
    {
        var s = r.Settings;
        static string F(float x) => x.ToString(CultureInfo.InvariantCulture);
        if (s.Epochs < 1)
        {
            throw new UserError($"--epochs must be at least 1, got {s.Epochs}");
        }
        if (s.BatchSize < 1)
        {
            throw new UserError($"--batch-size must be at least 1, got {s.BatchSize}");
        }
        if (!(s.LearningRate > 0) || float.IsInfinity(s.LearningRate))
        {
            throw new UserError($"--lr must be positive, got {F(s.LearningRate)}");
        }
        if (!(s.ValidationSplit >= 0 && s.ValidationSplit < 1))
        {
            throw new UserError($"--validation-split must be in [0, 1), got {s.ValidationSplit.ToString(CultureInfo.InvariantCulture)}");
        }
        if (r.Ensemble < 1)
        {
            throw new UserError($"--ensemble must be at least 1, got {r.Ensemble}");
        }
        if (r.ParallelMembers < 0)
        {
            throw new UserError($"--parallel-members must be 0 (one member per thread) or positive, got {r.ParallelMembers}");
        }
        if (r.Ensemble > 1 && s.CheckpointPath is not null)
        {
            throw new UserError($"--checkpoint keeps the best epoch of one model; it cannot be combined with --ensemble {r.Ensemble}");
        }
        if (s.Architecture != s.From)
        {
            Options.CheckArch(s.Architecture);
        }
        if (s.From is { } from)
        {
            CheckFrom(from, s.Architecture, r.Ensemble);
        }
        if (!OptimizerFactory.Names.Contains(s.Optimizer))
        {
            throw new UserError($"--optimizer must be one of {string.Join(", ", OptimizerFactory.Names)}, got '{s.Optimizer}'");
        }
        if (s.WeightDecay is { } wd && s.Optimizer != "adamw")
        {
            throw new UserError($"--weight-decay {F(wd)} needs --optimizer adamw (got {s.Optimizer})");
        }
        if (s.WeightDecay is { } decay && !(decay >= 0 && decay < 1))
        {
            throw new UserError($"--weight-decay must be in [0, 1), got {F(decay)}");
        }
        if (s.Momentum is { } m && s.Optimizer is not ("sgd" or "rmsprop"))
        {
            throw new UserError($"--momentum {F(m)} needs --optimizer sgd or rmsprop (got {s.Optimizer})");
        }
        if (s.Momentum is { } mom && !(mom >= 0 && mom < 1))
        {
            throw new UserError($"--momentum must be in [0, 1), got {F(mom)}");
        }
        if (!(s.LabelSmoothing >= 0 && s.LabelSmoothing < 1))
        {
            throw new UserError($"--label-smoothing must be in [0, 1), got {F(s.LabelSmoothing)}");
        }
        if (s.ClipNorm is { } clip && (!(clip > 0) || float.IsInfinity(clip)))
        {
            throw new UserError($"--clip-norm must be positive, got {F(clip)}");
        }
        if (s.EmaMomentum is { } mu && !(mu >= 0 && mu < 1))
        {
            throw new UserError($"--ema must be a momentum in [0, 1), got {F(mu)}");
        }
        if (s.EmaMomentum is not null && s.EarlyStopping is not null)
        {
            throw new UserError("--ema cannot be combined with --early-stopping, which ends with the best epoch's weights as trained instead of the average");
        }
        if (s.EarlyStopping is < 0)
        {
            throw new UserError($"--early-stopping must be a patience of 0 or more epochs, got {s.EarlyStopping}");
        }
        if (s.ReduceLrOnPlateau is < 0)
        {
            throw new UserError($"--reduce-lr-on-plateau must be a patience of 0 or more epochs, got {s.ReduceLrOnPlateau}");
        }
        if (s.ReduceLrOnPlateau is not null && s.Schedule == RateSchedule.OneCycle)
        {
            throw new UserError("--reduce-lr-on-plateau cannot be combined with --lr-schedule onecycle, which sets the rate of every step");
        }
        Cli.CheckWritable(r.ModelPath, "model");
        if (r.PlotPath is not null)
        {
            Cli.CheckWritable(r.PlotPath, "plot");
            _ = Drawing.Regular; // no font: say so now rather than after training
        }
        if (r.HistoryPath is not null)
        {
            Cli.CheckWritable(r.HistoryPath, "history");
        }
        if (s.CheckpointPath is not null)
        {
            Cli.CheckWritable(s.CheckpointPath, "checkpoint");
        }
        if (s.BackupDirectory is { } backup)
        {
            CheckBackup(backup, r.Ensemble);
        }
    }

    /// <summary>
    /// --from names one model (not an ensemble) whose layers --arch, when given, describes; read now,
    /// before the data. What the file takes is checked against the data by <see cref="CheckFromFits"/>.
    /// </summary>
    private static void CheckFrom(string from, string arch, int ensemble)
    {
        if (Directory.Exists(from))
        {
            throw new UserError($"--from '{from}' is a folder, not a model file");
        }
        var (file, _) = ModelFile.LoadClassifier(from, threads: 1);
        using (file)
        {
            if (file is not Sequential model)
            {
                int members = file is Ensemble e ? e.Members.Count : 0;
                string instead = ensemble > 1 ? "" : $" (--ensemble {members} trains that many from one model)";
                throw new UserError($"--from '{from}' is an ensemble of {members} models; it takes one model{instead}");
            }
            if (arch == from)
            {
                return;
            }
            try
            {
                using var named = Architectures.Create(arch, model.InputShape, model.Classes, 0, threads: 1);
                if (!named.HasSameArchitecture(model))
                {
                    throw new UserError($"--arch {arch} differs from the architecture of --from '{from}' ({Trainer.Describe(model)}); leave --arch out to train the file's");
                }
            }
            catch (ArchitectureSpecException e)
            {
                throw new UserError($"--arch {arch} does not fit the model in --from '{from}': {e.Message}");
            }
        }
    }

    /// <summary>With --from: checks that the file's model takes the data's samples (reading only its header) and returns the classes it scores; null without --from.</summary>
    public static int? CheckFromFits(TrainRequest r, Dataset data)
    {
        if (r.Settings.From is not { } from)
        {
            return null;
        }
        var metadata = SafeTensors.ReadMetadata(from);
        string expected = data.SampleShape.IsImage
            ? string.Create(CultureInfo.InvariantCulture, $"{data.SampleShape.Height},{data.SampleShape.Width},{data.SampleShape.Channels}")
            : data.SampleShape.Channels.ToString(CultureInfo.InvariantCulture);
        if (metadata.TryGetValue("input_shape", out var shape) && shape != expected)
        {
            throw new UserError($"--from '{from}' takes images of {shape.Replace(',', '×')} but {r.DataPath} holds {expected.Replace(',', '×')}");
        }
        return metadata.TryGetValue("classes", out var classes) && int.TryParse(classes, NumberStyles.None, CultureInfo.InvariantCulture, out int n) ? n : null;
    }

    /// <summary>--backup names a folder (made when missing) whose parent exists; a backup already there must at least have a readable header.</summary>
    private static void CheckBackup(string backup, int ensemble)
    {
        if (File.Exists(backup))
        {
            throw new UserError($"--backup '{backup}' is a file; give a folder (it is created when missing)");
        }
        string? parent = Path.GetDirectoryName(Path.GetFullPath(backup));
        if (parent is null || !Directory.Exists(parent))
        {
            throw new UserError($"--backup '{backup}': folder '{parent}' does not exist");
        }
        // The first backup is written after a whole epoch: find out now whether it can be.
        string probeIn = Directory.Exists(backup) ? backup : parent;
        try
        {
            using var probe = new FileStream(Path.Combine(probeIn, $".convnet-probe-{Guid.NewGuid():N}"), FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.DeleteOnClose);
        }
        catch (Exception e) when (e is UnauthorizedAccessException or IOException)
        {
            throw new UserError($"--backup '{backup}': cannot write in folder '{probeIn}'");
        }
        // Damage is reported now, before the data is read; whose run it is, once the model is built.
        _ = BackupAndRestore.PeekEpochs(ensemble == 1 ? backup : Path.Combine(backup, "member0"));
    }

    /// <summary>onecycle's schedule needs two steps; a user error once the training set's size is known.</summary>
    public static void CheckSteps(TrainingSettings s, int trainCount)
    {
        long steps = (long)((trainCount + s.BatchSize - 1) / s.BatchSize) * s.Epochs;
        if (s.Schedule == RateSchedule.OneCycle && steps < 2)
        {
            throw new UserError($"--lr-schedule onecycle needs at least 2 steps, got {steps} (more epochs or a smaller --batch-size)");
        }
    }
}
