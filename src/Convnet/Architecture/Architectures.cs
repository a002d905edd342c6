using Convnet.Layers;
using Convnet.Tensors;
using Convnet.Models;
using Convnet.Data;
using Convnet.Optimizers;

namespace Convnet.Architecture;

/// <summary>
/// A named model with the training settings it was tuned for. <see cref="Spec"/> is in the
/// <see cref="ArchitectureSpec"/> grammar (the classifier's dense&lt;classes&gt; and softmax are appended
/// by <see cref="ArchitectureSpec.Build"/>); <c>Training.TrainingSettings.For(recipe)</c> turns it
/// into the settings of a run.
/// </summary>
/// <param name="Name">What the command line's --arch calls it, e.g. "simple".</param>
/// <param name="Spec">The layers, in the <see cref="ArchitectureSpec"/> grammar, without the classifier's dense and softmax.</param>
/// <param name="Description">A one-line summary of the layers for --help.</param>
/// <param name="Epochs">Passes over the training data.</param>
/// <param name="BatchSize">Images per optimisation step.</param>
/// <param name="LearningRate">Of the first epoch (the peak for onecycle).</param>
/// <param name="Schedule">How the rate moves over the run.</param>
/// <param name="Augmentation">Random warps of the training images.</param>
/// <param name="EmaMomentum">The optimizer's moving average of the weights (<see cref="Optimizers.Optimizer.EmaMomentum"/>), saved instead of the weights as trained; null for none.</param>
/// <param name="LabelSmoothing">Of the cross-entropy's targets, in [0, 1): 0 for none.</param>
public sealed record Recipe(
    string Name, string Spec, string Description,
    int Epochs, int BatchSize, float LearningRate, RateSchedule Schedule, Augmentation Augmentation, float? EmaMomentum = null, float LabelSmoothing = 0);

/// <summary>Named model recipes for the command line.</summary>
public static class Architectures
{
    /// <summary>The augmentation of simple and strong: rotation ±10°, zoom ±0.1, shift ±0.1 (the Kaggle notebooks').</summary>
    public static Augmentation StandardAugmentation { get; } = new(rotationDegrees: 10, zoom: 0.1, shiftFraction: 0.1);

    /// <summary>
    /// "simple": the reference CNN — Conv2D(32, 3) → ReLU → MaxPool(2) → Conv2D(64, 3) → ReLU →
    /// MaxPool(2) → Flatten → Dense(128) → ReLU → Dense(classes) → Softmax; 8 epochs, Adam 1e-3, cosine
    /// decay, augmentation (rotation 10°, zoom 0.1, shift 0.1): 99.36 % on MNIST's test set in 69 s here.
    /// </summary>
    public static Recipe Simple { get; } = new(
        "simple",
        "conv32k3-relu,maxpool2,conv64k3-relu,maxpool2,flatten,dense128-relu",
        "Conv32-Pool-Conv64-Pool-Dense128-Dense(classes)",
        Epochs: 8, BatchSize: 64, LearningRate: 1e-3f, Schedule: RateSchedule.Cosine, Augmentation: StandardAugmentation);

    /// <summary>
    /// "general": what <c>convnet train</c> trains when no --arch is given — simple's two conv blocks
    /// with BatchNormalization after the second's ReLU, a third block Conv2D(128, 3) with
    /// BatchNormalization, Dropout 0.25 before and after Dense(128); 10 epochs, Adam 1e-3, cosine
    /// decay, label smoothing 0.1, no augmentation (the random warps that help digits make this small
    /// network underfit clothing in 10 epochs). Chosen to hold on more than digits with one command:
    /// 92.33 % and 92.26 % on Fashion-MNIST's test set (seeds 1 and 2; <see cref="Simple"/> gives
    /// 89.1 %) and 99.55 % on MNIST's (seed 1). BatchNormalization after the first convolution, on its
    /// 26×26×32 maps, cost a fifth of the step for no accuracy, so there is none;
    /// docs/accuracy.md, "The default recipe", has the runs.
    /// Needs images of at least 18×18 pixels (the third convolution needs 3×3 maps).
    /// </summary>
    public static Recipe General { get; } = new(
        "general",
        "conv32k3-relu,maxpool2,conv64k3-relu-bn,maxpool2,conv128k3-relu-bn,drop0.25,flatten,dense128-relu,drop0.25",
        "Conv32-Pool-Conv64-BN-Pool-Conv128-BN-Dense128-Dense(classes); dropout 0.25, label smoothing 0.1",
        Epochs: 10, BatchSize: 64, LearningRate: 1e-3f, Schedule: RateSchedule.Cosine, Augmentation: Augmentation.None, LabelSmoothing: 0.1f);

    /// <summary>
    /// The recipe <c>convnet train</c> uses without --arch, and whose settings layer specs and .json
    /// architecture files take: <see cref="General"/>.
    /// </summary>
    public static Recipe Default => General;

    /// <summary>
    /// The default recipe for samples of <paramref name="input"/>, chosen by their size alone:
    /// <see cref="Default"/> when its layers fit them (images of at least 18×18), else
    /// <see cref="Simple"/> when it fits (at least 10×10); smaller images get <see cref="Default"/>,
    /// whose error then says what does not fit.
    /// </summary>
    public static Recipe DefaultFor(Shape input) => Fits(Default, input) || !Fits(Simple, input) ? Default : Simple;

    /// <summary>Whether every layer of <paramref name="recipe"/> (its classifier head aside) accepts what the one before it gives for samples of <paramref name="input"/>.</summary>
    public static bool Fits(Recipe recipe, Shape input)
    {
        ArgumentNullException.ThrowIfNull(recipe);
        var shape = input;
        try
        {
            foreach (var layer in ArchitectureSpec.Parse(recipe.Spec))
            {
                shape = layer.ComputeOutputShape(shape);
            }
            return true;
        }
        catch (ArgumentException)
        {
            return false;
        }
    }

    /// <summary>
    /// "strong": the CNN of each member of the Kaggle MNIST ensemble ("25 million images! [0.99757]"):
    /// 32C3-ReLU-BN, 32C3-ReLU-BN, 32C5S2(same)-ReLU-BN, Dropout 0.4, 64C3-ReLU-BN, 64C3-ReLU-BN,
    /// 64C5S2(same)-ReLU-BN, Dropout 0.4, 128C4-ReLU-BN, Flatten, Dropout 0.4, Dense(classes), Softmax
    /// (BatchNormalization after the activation, as the notebook's Conv2D(activation='relu') then BatchNormalization());
    /// 30 epochs of batch 64, Adam 1e-3 decayed ×0.95 per epoch, the notebook's augmentation, and
    /// Keras's moving average of the weights (0.999) saved at the end: 99.665 % on average over 12
    /// seeds on MNIST's test set (99.625 % over 4 without the average), 16.6 minutes on 2 threads here.
    /// </summary>
    public static Recipe Strong { get; } = new(
        "strong",
        "conv32k3-relu-bn,conv32k3-relu-bn,conv32k5s2same-relu-bn,drop0.4,"
        + "conv64k3-relu-bn,conv64k3-relu-bn,conv64k5s2same-relu-bn,drop0.4,"
        + "conv128k4-relu-bn,flatten,drop0.4",
        "Kaggle ensemble member: 2×Conv32 + Conv32/2, 2×Conv64 + Conv64/2, Conv128, all with BN; dropout 0.4",
        Epochs: 30, BatchSize: 64, LearningRate: 1e-3f, Schedule: RateSchedule.Exponential(0.95f), Augmentation: StandardAugmentation, EmaMomentum: 0.999f);

    /// <summary>Every recipe, in the order the command line lists them: <see cref="Simple"/>, <see cref="General"/>, <see cref="Strong"/>.</summary>
    public static IReadOnlyList<Recipe> Recipes { get; } = [Simple, General, Strong];

    /// <summary>The recipes' names ("simple", "general", "strong"), in the order of <see cref="Recipes"/>.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. Recipes.Select(r => r.Name)];

    /// <summary>The recipe called <paramref name="name"/>, or null.</summary>
    public static Recipe? Find(string name) => Recipes.FirstOrDefault(r => r.Name == name);

    /// <summary>True when <paramref name="arch"/> names an architecture JSON file: it ends in .json and exists.</summary>
    public static bool IsJsonFile(string arch) => arch.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && File.Exists(arch);

    /// <summary>
    /// The layers <paramref name="nameOrSpec"/> stands for (a recipe name, an existing .json architecture file, or
    /// a spec), without building a model: checks the spec's syntax early.
    /// </summary>
    /// <exception cref="ArchitectureSpecException">The spec or file is malformed.</exception>
    public static IReadOnlyList<Layer> Describe(string nameOrSpec)
    {
        ArgumentNullException.ThrowIfNull(nameOrSpec);
        return Find(nameOrSpec) is { } recipe ? ArchitectureSpec.Parse(recipe.Spec)
            : IsJsonFile(nameOrSpec) ? FromFile(nameOrSpec, ArchitectureSpec.ParseJson)
            : ArchitectureSpec.Parse(nameOrSpec);
    }

    /// <summary>
    /// A fresh classifier from a recipe name (<see cref="Names"/>), an existing .json file holding the JSON
    /// layer list (<see cref="ArchitectureJson"/>) that model files keep as "architecture", or an <see cref="ArchitectureSpec"/>.
    /// </summary>
    /// <exception cref="ArchitectureSpecException">The spec or file is malformed, or does not fit the input.</exception>
    public static Sequential Create(string nameOrSpec, Shape input, int classes, ulong seed, int threads = 0)
    {
        ArgumentNullException.ThrowIfNull(nameOrSpec);
        if (classes < 2)
        {
            throw new ArgumentOutOfRangeException(nameof(classes), classes, "A classifier needs at least 2 classes.");
        }
        if (nameOrSpec == "simple")
        {
            // The reference model, built layer by layer as it always was (the spec above describes it too).
            var model = new Sequential(input, seed, threads) { Name = "simple" };
            model.Add(new Conv2D(32, 3)).Add(new ReLU()).Add(new MaxPooling2D(2))
                .Add(new Conv2D(64, 3)).Add(new ReLU()).Add(new MaxPooling2D(2))
                .Add(new Flatten()).Add(new Dense(128)).Add(new ReLU()).Add(new Dense(classes)).Add(new Softmax());
            return model;
        }
        if (Find(nameOrSpec) is { } recipe)
        {
            return ArchitectureSpec.Build(recipe.Spec, input, classes, seed, threads, recipe.Name);
        }
        if (IsJsonFile(nameOrSpec))
        {
            return FromFile(nameOrSpec, json => ArchitectureSpec.FromJson(json, input, classes, seed, threads, Path.GetFileNameWithoutExtension(nameOrSpec)));
        }
        return ArchitectureSpec.Build(nameOrSpec, input, classes, seed, threads);
    }

    private static T FromFile<T>(string path, Func<string, T> parse)
    {
        string json;
        try
        {
            json = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new ArchitectureSpecException($"cannot read architecture file '{path}': {e.Message}", inner: e);
        }
        try
        {
            return parse(json);
        }
        catch (ArchitectureSpecException e)
        {
            throw new ArchitectureSpecException($"'{path}': {e.Message}", e.TokenNumber, e.Token, e.Column, e);
        }
    }
}
