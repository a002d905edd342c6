using Convnet.Kernels;
using Convnet.Layers;
using Convnet.Runtime;

namespace Convnet.Optimizers;

/// <summary>
/// Updates parameters from their gradients; owns its per-parameter state. Each <see cref="Step(IReadOnlyList{Parameter})"/>
/// first takes the rate from <see cref="Schedule"/> (when set), then clips the gradients by their
/// global norm (when <see cref="ClipNorm"/> is set), then applies the subclass's update rule, then
/// (when <see cref="EmaMomentum"/> is set) updates the moving average of the weights.
/// </summary>
public abstract class Optimizer
{
    // Per-parameter state by slot (Adam's moments, the moving average, ...): one array per
    // parameter, created at the first step, null before it.
    private readonly List<string> _slotNames = [];
    private readonly List<float[][]?> _slots = [];
    private readonly int _average = -1;

    /// <summary>Validates and keeps the settings every optimizer shares.</summary>
    /// <param name="learningRate">The initial <see cref="LearningRate"/>; positive and finite.</param>
    /// <param name="clipNorm">The <see cref="ClipNorm"/>; null, or positive and finite.</param>
    /// <param name="emaMomentum">The <see cref="EmaMomentum"/>; null, or in [0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A setting outside its range.</exception>
    protected Optimizer(float learningRate, float? clipNorm = null, float? emaMomentum = null)
    {
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be positive and finite.");
        }
        if (clipNorm is { } c && (!(c > 0) || float.IsInfinity(c)))
        {
            throw new ArgumentOutOfRangeException(nameof(clipNorm), clipNorm, "clipNorm must be positive and finite.");
        }
        if (emaMomentum is { } mu && !(mu >= 0 && mu < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(emaMomentum), emaMomentum, "emaMomentum must be in [0, 1).");
        }
        LearningRate = learningRate;
        ClipNorm = clipNorm;
        EmaMomentum = emaMomentum;
        _updateSegment = UpdateSegment;
        if (emaMomentum is not null)
        {
            _average = AddSlot("average");
        }
    }

    /// <summary>The lower-case name <see cref="OptimizerFactory.Create"/> takes, e.g. "adam".</summary>
    public abstract string Name { get; }

    /// <summary>The current learning rate; schedules and callbacks may change it between steps.</summary>
    public float LearningRate { get; set; }

    /// <summary>
    /// A per-step schedule (Keras's optimizer(learning_rate=schedule)): before step t (0-based)
    /// <see cref="LearningRate"/> becomes Schedule.Rate(t). Null keeps the rate as set.
    /// </summary>
    public LearningRateSchedule? Schedule { get; set; }

    /// <summary>
    /// When set, gradients are scaled by clipNorm / max(‖g‖, clipNorm) with ‖g‖ the global L2 norm
    /// over all parameters (Keras's global_clipnorm), summed in double in parameter order.
    /// </summary>
    public float? ClipNorm { get; }

    /// <summary>
    /// Keras's use_ema / ema_momentum: when set, after step t avg ← μₜ·avg + (1−μₜ)·w, and
    /// <see cref="FinalizeVariableValues"/> writes the averages into the weights, as Sequential.Fit
    /// does when training ends. Null keeps no average. Unlike Keras's constant μ, μₜ warms up as
    /// TensorFlow's ExponentialMovingAverage with num_updates does (see <see cref="EmaMomentumAt"/>),
    /// so a short run averages its recent weights instead of keeping a large share of the first ones
    /// (with μ = 0.999: 0.999^940 = 39% after 940 steps); μₜ reaches 0.999 at about step 9,000.
    /// </summary>
    public float? EmaMomentum { get; }

    /// <summary>
    /// The global L2 norm of the last step's gradients before clipping, when <see cref="ClipNorm"/>
    /// made the step compute it; null otherwise (it costs a pass over the gradients).
    /// </summary>
    public double? GradientNorm { get; private set; }

    /// <summary>Number of steps taken.</summary>
    public long Iterations { get; protected set; }

    /// <summary>
    /// The settings of the update rule under Keras's names (e.g. "learning_rate", "beta_1"), formatted
    /// round-trip with the invariant culture; a new dictionary per call.
    /// </summary>
    public abstract IReadOnlyDictionary<string, string> Config { get; }

    /// <summary>
    /// One optimisation step on <paramref name="parameters"/> from their accumulated gradients, in the
    /// order the class summary gives; clipping scales the gradients in place. Allocates only at the
    /// first step (the slots).
    /// </summary>
    /// <param name="parameters">The model's parameters; the same list, in the same order, at every step.</param>
    public void Step(IReadOnlyList<Parameter> parameters) => Step(parameters, null);

    /// <summary>
    /// As <see cref="Step(IReadOnlyList{Parameter})"/>, the updates run on <paramref name="pool"/>'s
    /// threads in segments of <see cref="SegmentLength"/> values: each value's update reads only its
    /// own gradient and slots, so the result is the same on any number of threads.
    /// </summary>
    internal void Step(IReadOnlyList<Parameter> parameters, WorkerPool? pool)
    {
        if (Schedule is not null)
        {
            LearningRate = Schedule.Rate(Iterations);
        }
        if (ClipNorm is { } clip)
        {
            double sum = 0;
            // Indexed loops: foreach over the interface would box an enumerator on every step.
            for (int i = 0; i < parameters.Count; i++)
            {
                sum += OptimizerKernels.SumOfSquares(parameters[i].Gradient);
            }
            double norm = Math.Sqrt(sum);
            GradientNorm = norm;
            if (norm > clip)
            {
                float scale = (float)(clip / norm);
                for (int i = 0; i < parameters.Count; i++)
                {
                    OptimizerKernels.Scale(parameters[i].Gradient, scale);
                }
            }
        }
        Iterations++;
        BeginUpdate(parameters);
        if (EmaMomentum is { } momentum)
        {
            _averageValues = Slot(_average, parameters);
            _averageMomentum = EmaMomentumAt(momentum, Iterations);
        }
        _parameters = parameters;
        var segments = Segments(parameters);
        if (pool is null)
        {
            for (int s = 0; s < segments.Length; s++)
            {
                UpdateSegment(s);
            }
        }
        else
        {
            pool.For(segments.Length, _updateSegment);
        }
        (_parameters, _averageValues) = (null, null);
    }

    // Values per work item of a step: a multiple of every vector width, so a parameter's values take
    // the same vector or scalar path in any segment as in one pass over the parameter.
    internal const int SegmentLength = 16_384;

    // The step's state for the pool's items, and the segments [parameter, start, count) of the list
    // they were made for (remade when another list comes).
    private IReadOnlyList<Parameter>? _parameters;
    private float[][]? _averageValues;
    private float _averageMomentum;
    private readonly Action<int> _updateSegment;
    private (int Index, int Start, int Count)[] _segments = [];
    private IReadOnlyList<Parameter>? _segmentsOf;
    private long _segmentsTotal;

    private (int Index, int Start, int Count)[] Segments(IReadOnlyList<Parameter> parameters)
    {
        long total = 0;
        int count = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            total += parameters[i].Length;
            count += (parameters[i].Length + SegmentLength - 1) / SegmentLength;
        }
        if (ReferenceEquals(parameters, _segmentsOf) && total == _segmentsTotal && count == _segments.Length)
        {
            return _segments;
        }
        var segments = new (int, int, int)[count];
        int at = 0;
        for (int i = 0; i < parameters.Count; i++)
        {
            for (int start = 0; start < parameters[i].Length; start += SegmentLength)
            {
                segments[at++] = (i, start, Math.Min(SegmentLength, parameters[i].Length - start));
            }
        }
        (_segments, _segmentsOf, _segmentsTotal) = (segments, parameters, total);
        return segments;
    }

    // The update rule on one segment, then the moving average of the values it wrote.
    private void UpdateSegment(int segment)
    {
        var (index, start, count) = _segments[segment];
        var parameter = _parameters![index];
        Update(index, parameter, start, count);
        if (_averageValues is { } average)
        {
            OptimizerKernels.MovingAverage(parameter.Value.Slice(start, count), _averageMomentum, average[index].AsSpan(start, count));
        }
    }

    /// <summary>
    /// The momentum of the moving average's update after step <paramref name="step"/> (1-based):
    /// min(μ, (t − 1)/(t + 8)), i.e. 0 after the first step (avg = w), 0.1 after the second, 0.5
    /// after the tenth (TensorFlow's min(decay, (1 + n)/(10 + n))).
    /// </summary>
    public static float EmaMomentumAt(float momentum, long step)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(step, 1);
        return MathF.Min(momentum, (step - 1f) / (step + 8f));
    }

    /// <summary>
    /// Keras's finalize_variable_values: with <see cref="EmaMomentum"/> set and at least one step
    /// taken, copies the moving averages into the weights of <paramref name="parameters"/> (the list
    /// the steps saw); otherwise does nothing.
    /// </summary>
    public void FinalizeVariableValues(IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        if (_average < 0 || _slots[_average] is not { } average)
        {
            return;
        }
        if (parameters.Count != average.Length)
        {
            throw new ArgumentException($"The optimizer averaged {average.Length} parameters, not {parameters.Count}.", nameof(parameters));
        }
        for (int i = 0; i < parameters.Count; i++)
        {
            average[i].CopyTo(parameters[i].Value);
        }
    }

    /// <summary>
    /// Before a step's updates, with <see cref="Iterations"/> already counting the step: the step's
    /// constants (Adam's bias corrections) and the slots the updates read, fetched here with
    /// <see cref="Slot"/> (the updates may run on several threads at once).
    /// </summary>
    protected virtual void BeginUpdate(IReadOnlyList<Parameter> parameters)
    {
    }

    /// <summary>
    /// Applies the update rule to values [<paramref name="start"/>, start + <paramref name="count"/>)
    /// of parameter <paramref name="index"/> (<paramref name="parameter"/>) and of its slots. Each
    /// value's update must read only its own gradient and slot values: a step runs the segments of
    /// the parameters on several threads.
    /// </summary>
    protected abstract void Update(int index, Parameter parameter, int start, int count);

    /// <summary>
    /// Declares a per-parameter slot (in the constructor) named as Keras names its optimizer
    /// variables; returns the index <see cref="Slot"/> takes.
    /// </summary>
    protected int AddSlot(string name)
    {
        _slotNames.Add(name);
        _slots.Add(null);
        return _slots.Count - 1;
    }

    /// <summary>The slot's arrays, one per parameter, created as zeros at the first step.</summary>
    protected float[][] Slot(int index, IReadOnlyList<Parameter> parameters) => _slots[index] ??= CreateState(parameters);

    /// <summary>The names of the per-parameter slots, e.g. "momentum" and "velocity" for Adam, "average" with <see cref="EmaMomentum"/>.</summary>
    public IReadOnlyList<string> SlotNames => _slotNames;

    /// <summary>
    /// The slot <paramref name="name"/> for every parameter, concatenated in parameter order
    /// (the layout of the model's flat value buffer): a copy, zeros before the first step.
    /// </summary>
    public float[] GetSlot(string name, IReadOnlyList<Parameter> parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int index = SlotIndex(name);
        var result = new float[parameters.Sum(p => p.Length)];
        if (_slots[index] is { } slot)
        {
            CheckSlotShape(slot, parameters);
            int at = 0;
            foreach (float[] values in slot)
            {
                values.CopyTo(result, at);
                at += values.Length;
            }
        }
        return result;
    }

    /// <summary>
    /// Puts the optimizer where another of the same kind and settings was after
    /// <paramref name="iterations"/> steps on <paramref name="parameters"/>: its step count, rate
    /// and every slot, given as <see cref="GetSlot"/> returned them (ignored when
    /// <paramref name="iterations"/> is 0, as the slots do not exist before the first step).
    /// </summary>
    public void RestoreState(long iterations, float learningRate, IReadOnlyList<Parameter> parameters, IReadOnlyDictionary<string, float[]> slots)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentOutOfRangeException.ThrowIfNegative(iterations);
        if (!(learningRate > 0) || float.IsInfinity(learningRate))
        {
            throw new ArgumentOutOfRangeException(nameof(learningRate), learningRate, "learningRate must be positive and finite.");
        }
        int total = parameters.Sum(p => p.Length);
        foreach (string name in _slotNames)
        {
            if (!slots.TryGetValue(name, out float[]? values))
            {
                throw new ArgumentException($"No values for the optimizer's slot '{name}'.", nameof(slots));
            }
            if (values.Length != total)
            {
                throw new ArgumentException($"Slot '{name}' has {values.Length} values; the parameters have {total}.", nameof(slots));
            }
        }
        for (int index = 0; index < _slots.Count; index++)
        {
            if (iterations == 0)
            {
                _slots[index] = null;
                continue;
            }
            var slot = CreateState(parameters);
            int at = 0;
            foreach (float[] array in slot)
            {
                slots[_slotNames[index]].AsSpan(at, array.Length).CopyTo(array);
                at += array.Length;
            }
            _slots[index] = slot;
        }
        Iterations = iterations;
        LearningRate = learningRate;
    }

    private int SlotIndex(string name)
    {
        int index = _slotNames.IndexOf(name);
        return index >= 0 ? index : throw new ArgumentException($"The {Name} optimizer has no slot '{name}' (it has {string.Join(", ", _slotNames)}).", nameof(name));
    }

    private static void CheckSlotShape(float[][] slot, IReadOnlyList<Parameter> parameters)
    {
        if (slot.Length != parameters.Count || slot.Zip(parameters).Any(pair => pair.First.Length != pair.Second.Length))
        {
            throw new ArgumentException("These are not the parameters the optimizer stepped.", nameof(parameters));
        }
    }

    private static float[][] CreateState(IReadOnlyList<Parameter> parameters)
    {
        var state = new float[parameters.Count][];
        for (int i = 0; i < state.Length; i++)
        {
            state[i] = new float[parameters[i].Length];
        }
        return state;
    }
}
