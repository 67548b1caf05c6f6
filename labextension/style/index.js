import './base.css';
import './sweep.css';
import 'uplot/dist/uPlot.min.css';
